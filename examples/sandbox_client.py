"""A plain Kubernetes client against the sandbox: identity stamping, approval, issuance, RBAC.

Run `certcsi sandbox up --kubeconfig sandbox.kubeconfig` in one terminal, then
`python examples/sandbox_client.py sandbox.kubeconfig` in another. It uses only kubernetes-asyncio
(and cryptography for the CSR), exactly as any client of a real cluster would:

1. creates a namespace, a ServiceAccount, a Role allowing `create` on certificaterequests and a
   RoleBinding, then mints a token for the account (TokenRequest);
2. creates a CertificateRequest with that token and checks spec.username is the account;
3. waits until it is Approved and Issued and runs `openssl verify` against status.ca;
4. tries again with a token of an account without the permission and expects 403.
Exit code 0 means every step behaved like a real cluster with cert-manager.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "cert-manager.io", "v1", "certificaterequests"


def csr_pem(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


async def connect(kubeconfig: str, token: str | None = None) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    if token is not None:  # same server and CA, another identity
        configuration.api_key["BearerToken"] = f"Bearer {token}"
    return client.ApiClient(configuration)


async def mint_token(core: client.CoreV1Api, namespace: str, account: str) -> str:
    await core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata={"name": account}))
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    response = await core.create_namespaced_service_account_token(account, namespace, request)
    return str(response.status.token)


def request_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr_pem(f"{name}.example.com")).decode(),
            "issuerRef": {"name": "sandbox-ca", "kind": "ClusterIssuer", "group": GROUP},
            "usages": ["digital signature", "key encipherment", "server auth"],
        },
    }


async def wait_issued(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    for _ in range(100):
        obj: dict[str, Any] = await custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        conditions = {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}
        if conditions.get("Ready", {}).get("reason") == "Issued":
            assert conditions["Approved"]["status"] == "True", conditions
            return obj
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{namespace}/{name} was not issued")


async def main(kubeconfig: str) -> None:
    namespace = f"example-{uuid.uuid4().hex[:6]}"
    async with await connect(kubeconfig) as admin:
        core, rbac = client.CoreV1Api(admin), client.RbacAuthorizationV1Api(admin)
        await core.create_namespace(client.V1Namespace(metadata={"name": namespace}))
        allowed = await mint_token(core, namespace, "requester")
        denied = await mint_token(core, namespace, "bystander")
        rule = client.V1PolicyRule(api_groups=[GROUP], resources=[PLURAL], verbs=["create", "get"])
        await rbac.create_namespaced_role(namespace, client.V1Role(metadata={"name": "requester"}, rules=[rule]))
        subject = client.RbacV1Subject(kind="ServiceAccount", name="requester", namespace=namespace)
        role_ref = client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="requester")
        binding = client.V1RoleBinding(metadata={"name": "requester"}, subjects=[subject], role_ref=role_ref)
        await rbac.create_namespaced_role_binding(namespace, binding)
        print(f"1. namespace {namespace}: ServiceAccounts requester (may create requests) and bystander")

    async with await connect(kubeconfig, allowed) as requester:
        custom = client.CustomObjectsApi(requester)
        created = await custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, request_body("web"))
        username = created["spec"]["username"]
        assert username == f"system:serviceaccount:{namespace}:requester", username
        print(f"2. created {namespace}/web as {username}")
        issued = await wait_issued(custom, namespace, "web")

    with tempfile.TemporaryDirectory() as tmp:
        ca, cert = Path(tmp, "ca.crt"), Path(tmp, "tls.crt")
        ca.write_bytes(base64.b64decode(issued["status"]["ca"]))
        cert.write_bytes(base64.b64decode(issued["status"]["certificate"]))
        verify = await asyncio.to_thread(
            subprocess.run, ["openssl", "verify", "-CAfile", ca, cert], check=False, capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stderr
    print(f"3. approved and issued; openssl verify: {verify.stdout.strip().rsplit(' ', 1)[-1]}")

    async with await connect(kubeconfig, denied) as bystander:
        try:
            await client.CustomObjectsApi(bystander).create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, request_body("forbidden")
            )
        except ApiException as e:
            assert e.status == 403, e
            print(f"4. bystander refused: {e.status} {e.reason}")
        else:
            raise AssertionError("a ServiceAccount without RBAC could create a CertificateRequest")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} KUBECONFIG")
    asyncio.run(main(sys.argv[1]))
