"""The objects `certcsi sandbox demo --spiffe` applies are the chart's, from the sandbox's one rendering of it."""

from __future__ import annotations

from helm_charts import render

from certcsi.sandbox.demo_spiffe import INSTALL_SETS, INSTALLED_KINDS, component_account, installed_objects


def test_the_demo_s_objects_are_what_the_chart_renders_at_the_demo_s_values() -> None:
    # The sandbox's rendering is at its own values; the accounts, RBAC and CSIDriver must not depend on them.
    at_demo_values = [o for o in render("csi-driver-spiffe", sets=INSTALL_SETS) if o["kind"] in INSTALLED_KINDS]
    assert installed_objects() == at_demo_values


def test_the_demo_finds_both_accounts_and_the_csidriver_in_it() -> None:
    objects = installed_objects()
    assert component_account(objects, "driver").name == "cert-manager-csi-driver-spiffe"
    assert component_account(objects, "approver").name == "cert-manager-csi-driver-spiffe-approver"
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "CSIDriver"] == ["spiffe.csi.cert-manager.io"]
