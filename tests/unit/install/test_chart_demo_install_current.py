"""The objects `certcsi sandbox demo --spiffe` applies are what the chart renders (generated, kept current)."""

from __future__ import annotations

from helm_charts import REPO, demo_install_yaml

from certcsi.sandbox.demo_spiffe import INSTALL_FILE, component_account, installed_objects

GENERATED = REPO / "src" / "certcsi" / "sandbox" / "data" / INSTALL_FILE


def test_the_demo_s_install_file_is_current() -> None:
    assert GENERATED.read_text() == demo_install_yaml(), "run: python tests/support/helm_charts.py > " + str(
        GENERATED.relative_to(REPO)
    )


def test_the_demo_finds_both_accounts_and_the_csidriver_in_it() -> None:
    objects = installed_objects()
    assert component_account(objects, "driver").name == "cert-manager-csi-driver-spiffe"
    assert component_account(objects, "approver").name == "cert-manager-csi-driver-spiffe-approver"
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "CSIDriver"] == ["spiffe.csi.cert-manager.io"]
