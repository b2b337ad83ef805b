"""PKCS#12: Java's keytool opens the keystore with the password, which lives only in the tmpfs metadata.json
(where csi-lib reads it on renewal, so the Go driver can take the volume back)."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from pathlib import Path

import pytest
from e2e_harness import E2E, NAMESPACE, P, check_pair, eventually, mount_at, pod_manifest, typical_attributes

from certcsi.sandbox.kubelet import volume_id
from certcsi.volumes.store import METADATA_FILE

pytestmark = pytest.mark.e2e


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Regular files under `root` (bind mounts included, symlinks and sockets not) that contain `needle`."""
    found = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if stat.S_ISREG(path.lstat().st_mode) and needle in path.read_bytes():
                found.append(path)
    return sorted(found)


async def test_keytool_lists_the_private_key_and_the_password_stays_in_the_tmpfs(env: E2E) -> None:
    password = "e2e-p12-" + secrets.token_hex(8)
    attributes = typical_attributes(**{"pkcs12-enable": "true", "pkcs12-password": password})
    await env.kubelet.apply(pod_manifest("java-app", attributes, fs_group=2000))
    await env.kubelet.wait_ready(NAMESPACE, "java-app", timeout=30)
    target = env.target("java-app")
    check_pair(target)

    keytool = subprocess.run(
        ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(target / "keystore.p12"), "-storepass", password],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert keytool.returncode == 0, keytool.stdout + keytool.stderr
    assert "PrivateKeyEntry" in keytool.stdout, keytool.stdout
    wrong = subprocess.run(
        ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(target / "keystore.p12"), "-storepass", "nope"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode != 0  # the keystore really is protected by that password

    volume = volume_id(env.kubelet.pod_uid(NAMESPACE, "java-app"), "tls")
    volume_dir = env.inmemfs / volume
    # The one place allowed to hold it, found by the same search that must find nothing elsewhere.
    assert files_containing(env.workdir, password.encode()) == [volume_dir / METADATA_FILE]
    inmemfs = mount_at(env.inmemfs)
    assert inmemfs is not None and inmemfs.fs_type == "tmpfs"
    assert stat.S_IMODE((volume_dir / METADATA_FILE).stat().st_mode) == 0o600

    log = env.driver.logs()
    published = (b'"msg"="volume published"', f'"volume_id"="{volume}"'.encode(), b'"pod"="java-app"')
    assert any(all(part in line for part in published) for line in log.splitlines()), "no driver log captured"
    assert password.encode() not in log


async def test_password_is_not_echoed_by_a_failed_mount(env: E2E) -> None:
    password = "e2e-p12-" + secrets.token_hex(8)
    # An invalid value that contains the password: the error must name the attribute, not echo the secret.
    attributes = typical_attributes(**{"pkcs12-enable": "true", "pkcs12-password": password, "key-size": password})
    await env.kubelet.apply(pod_manifest("leaky", attributes))
    await eventually(lambda: env.kubelet.last_failure(NAMESPACE, "leaky") is not None, timeout=20, what="a FailedMount")
    messages = [str(event.get("message")) for event in await env.events()]
    assert any(P + "key-size" in message for message in messages), messages
    assert not any(password in message for message in messages), messages
    assert password.encode() not in env.driver.logs()
    assert files_containing(env.workdir, password.encode()) == []
