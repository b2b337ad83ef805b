"""Through HTTPS with kubernetes-asyncio only: a ServiceAccount allowed to create CertificateRequests gets
its identity stamped, the request approved and issued (openssl verifies it against status.ca); an
account without the permission gets 403, and a request breaking the CRD schema gets 422 with causes."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.sandbox.cluster import Sandbox

GROUP, VERSION, PLURAL = "cert-manager.io", "v1", "certificaterequests"
NS = "team"


async def api_client(sandbox: Sandbox, token: str | None = None, kubeconfig: Path | None = None) -> client.ApiClient:
    configuration = client.Configuration()
    if kubeconfig is not None:
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    else:
        await config.load_kube_config_from_dict(
            config_dict=sandbox.api.kubeconfig(token), client_configuration=configuration
        )
    return client.ApiClient(configuration)


def request_body(name: str, **spec: Any) -> dict[str, Any]:
    key = generate_private_key(KeySpec("ECDSA"))
    csr = build_csr(key, CsrSpec(uris=("spiffe://cluster.local/ns/team/sa/app",)))
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csr).decode(),
            "issuerRef": {"name": "sandbox-ca", "kind": "ClusterIssuer", "group": GROUP},
            "duration": "1h",
            **spec,
        },
    }


async def grant_create(admin: client.ApiClient, account: str) -> None:
    rbac = client.RbacAuthorizationV1Api(admin)
    meta = client.V1ObjectMeta(name="request-certificates")
    rule = client.V1PolicyRule(api_groups=[GROUP], resources=[PLURAL], verbs=["create", "get"])
    await rbac.create_namespaced_role(NS, client.V1Role(metadata=meta, rules=[rule]))
    binding = client.V1RoleBinding(
        metadata=meta,
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="request-certificates"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name=account, namespace=NS)],
    )
    await rbac.create_namespaced_role_binding(NS, binding)


async def token_for(core: client.CoreV1Api, account: str) -> str:
    await core.create_namespaced_service_account(
        NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=account))
    )
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    minted = await core.create_namespaced_service_account_token(account, NS, request)
    return str(minted.status.token)


async def wait_issued(objects: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    for _ in range(400):
        cr: dict[str, Any] = await objects.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, name)
        ready = [c for c in cr.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        if ready and ready[0]["status"] == "True":
            return cr
        await asyncio.sleep(0.01)
    raise AssertionError(f"request {name} was not issued: {cr.get('status')}")


async def test_service_account_request_is_stamped_approved_and_issued(tmp_path: Path) -> None:
    async with Sandbox() as sandbox:
        sandbox.write_kubeconfig(tmp_path / "kubeconfig")
        admin = await api_client(sandbox, kubeconfig=tmp_path / "kubeconfig")
        clients = [admin]
        try:
            core = client.CoreV1Api(admin)
            await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
            allowed_token = await token_for(core, "app")
            denied_token = await token_for(core, "nobody")
            await grant_create(admin, "app")

            app = await api_client(sandbox, allowed_token)
            nobody = await api_client(sandbox, denied_token)
            clients += [app, nobody]
            created = await client.CustomObjectsApi(app).create_namespaced_custom_object(
                GROUP, VERSION, NS, PLURAL, request_body("app-cert", username="forged")
            )
            assert created["spec"]["username"] == "system:serviceaccount:team:app"
            assert "system:serviceaccounts:team" in created["spec"]["groups"]

            issued = await wait_issued(client.CustomObjectsApi(admin), "app-cert")
            reasons = {c["type"]: c["reason"] for c in issued["status"]["conditions"]}
            assert reasons == {"Approved": "cert-manager.io", "Ready": "Issued"}
            chain = x509.load_pem_x509_certificates(base64.b64decode(issued["status"]["certificate"]))
            (tmp_path / "ca.pem").write_bytes(base64.b64decode(issued["status"]["ca"]))
            (tmp_path / "leaf.pem").write_bytes(chain[0].public_bytes(Encoding.PEM))
            verified = subprocess.run(
                ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
                capture_output=True,
                text=True,
                check=False,
            )
            assert verified.returncode == 0, verified.stderr

            with pytest.raises(ApiException) as forbidden:
                await client.CustomObjectsApi(nobody).create_namespaced_custom_object(
                    GROUP, VERSION, NS, PLURAL, request_body("nobody-cert")
                )
            assert forbidden.value.status == 403

            with pytest.raises(ApiException) as invalid:
                await client.CustomObjectsApi(app).create_namespaced_custom_object(
                    GROUP, VERSION, NS, PLURAL, request_body("bad-cert", usages=["teleport"])
                )
            assert invalid.value.status == 422
            status = json.loads(invalid.value.body or b"{}")
            assert status["reason"] == "Invalid"
            assert [(c["reason"], c["field"]) for c in status["details"]["causes"]] == [
                ("FieldValueNotSupported", "spec.usages[0]")
            ]
        finally:
            for api in clients:
                await api.close()
