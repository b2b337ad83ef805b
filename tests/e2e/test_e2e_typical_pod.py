"""A pod with typical attributes: a verified pair, modes and group, a read-only bind mount of tmpfs."""

from __future__ import annotations

import os
import stat

import pytest
from e2e_harness import E2E, NAMESPACE, check_pair, mount_at, pod_manifest, typical_attributes, write_fails_read_only

from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.kubelet import volume_id

pytestmark = pytest.mark.e2e

FILES = ("ca.crt", "tls.crt", "tls.key")


async def test_typical_pod_gets_a_verified_pair_on_a_read_only_tmpfs_bind(env: E2E) -> None:
    attributes = typical_attributes(**{"key-usages": "server auth,client auth,digital signature,key encipherment"})
    await env.kubelet.apply(pod_manifest("web", attributes, fs_group=2000))
    await env.kubelet.wait_ready(NAMESPACE, "web", timeout=30)
    target = env.target("web")

    pair = check_pair(target)
    assert pair.verify_output.endswith("tls.crt: OK")
    leaf = parse_pem_chain((target / "tls.crt").read_bytes())[0]
    assert leaf.subject.rfc4514_string() == "CN=web"

    assert sorted(name for name in os.listdir(target) if not name.startswith("..")) == list(FILES)
    for name in FILES:
        st = os.stat(target / name)
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o440, 2000), name

    mount = mount_at(target)
    assert mount is not None, f"nothing mounted at {target}"
    assert "ro" in mount.options
    assert mount.fs_type == "tmpfs"  # the bind shows the driver's tmpfs, not the disk
    assert mount.root == f"/{volume_id(env.kubelet.pod_uid(NAMESPACE, 'web'), 'tls')}/data"
    assert write_fails_read_only(target)

    inmemfs = mount_at(env.inmemfs)
    assert inmemfs is not None and inmemfs.fs_type == "tmpfs"


async def test_fs_group_attribute_sets_the_files_group(env: E2E) -> None:
    await env.kubelet.apply(pod_manifest("grouped", typical_attributes(**{"fs-group": "3000"})))
    await env.kubelet.wait_ready(NAMESPACE, "grouped", timeout=30)
    target = env.target("grouped")
    check_pair(target)
    for name in FILES:
        st = os.stat(target / name)
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o440, 3000), name
