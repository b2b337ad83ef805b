"""README's migration guide ("Migrating from the Go drivers"): every claim it makes is still written there,
every bullet of its "What carries over" and "Rolling back" lists is one of these claims, and each claim
names the tests (under tests/) that hold it true, which must exist:

"helm upgrade cert-manager-csi-driver ./deploy/charts/csi-driver":
    unit/install/test_chart_readme_commands.py::test_each_readme_command_renders
"helm upgrade cert-manager-csi-driver-spiffe ./deploy/charts/csi-driver-spiffe":
    unit/install/test_chart_readme_commands.py::test_readme_installs_and_upgrades_both_charts_under_upstream_s_release_names
"Each chart moves on its own":
    unit/volumes/test_volume_store_shared_root.py::test_go_written_volumes_are_placed_by_kubelet_s_record_then_by_the_issuer_attribute
"**Values**":
    unit/install/test_chart_upstream_values.py::test_every_key_of_upstream_s_current_values_file_is_known
    unit/install/test_chart_upstream_values.py::test_every_key_of_upstream_s_earlier_releases_is_known
    unit/install/test_chart_upstream_values.py::test_upstream_s_values_file_renders_certcsi_with_upstream_s_args
"**Objects**":
    unit/install/test_chart_upgrade_identity.py::TestUpgradeIdentity
"**Volumes**":
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_each_driver_resumes_only_its_own_go_volume_and_issues_nothing
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_republishes_take_over_without_a_request_or_a_failure
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_each_volume_is_renewed_once_when_due_with_the_pods_fresh_token
"**Both drivers on one data root**":
    unit/volumes/test_volume_store_shared_root.py::test_each_store_keeps_only_its_volumes_and_never_cleans_the_others
    unit/volumes/test_volume_store_shared_root.py::test_go_written_volumes_are_placed_by_kubelet_s_record_then_by_the_issuer_attribute
    e2e/test_e2e_shared_data_root.py::test_two_drivers_share_one_data_root_through_restarts_and_pod_deletion
"**Secrets on disk**":
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_the_token_leaves_the_disk_and_the_password_stays_where_csi_lib_reads_it
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_a_renewal_due_before_kubelet_republishes_uses_the_token_csi_lib_left
"**Volumes published before their first certificate**":
    unit/volumes/test_manager_takeover_from_csi_lib.py::test_a_volume_published_before_its_first_certificate_is_issued_once
"**CertificateRequests**":
    unit/volumes/test_issuance_hash.py::test_upstream_vector
    unit/volumes/test_issuance_hash.py::test_is_fnv1_not_fnv1a
    unit/volumes/test_issuance_pruning.py::test_default_keeps_only_the_new_request
"**Metrics, dashboards and alerts**":
    integration/observability/test_obs_driver_metrics_upstream.py::test_a_driver_exposes_csi_libs_metrics_as_upstream_does
    integration/approver/test_approver_sandbox_controller_metrics.py::test_the_controller_runtime_and_workqueue_families_are_scraped
"What differs":
    unit/install/test_chart_matches_upstream.py::test_every_difference_from_upstream_is_listed_with_its_reason
    unit/install/test_chart_matches_upstream.py::test_every_listed_difference_is_still_needed
"helm rollback cert-manager-csi-driver --namespace cert-manager":
    unit/docs/test_readme_migration.py::test_the_rollback_commands_name_upstream_s_releases
"names, selectors and host paths are the same on both sides":
    unit/install/test_chart_upgrade_identity.py::TestUpgradeIdentity
"**Every volume**":
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_the_go_driver_starts_and_resumes_every_volume_at_certcsi_s_renewal_time
"**The PKCS#12 password**":
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_without_token_requests_the_go_driver_renews_a_keystore_at_once
"**No service-account token**":
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_with_token_requests_the_first_republish_gives_the_go_driver_its_token
    unit/docs/test_readme_migration.py::test_upstream_requests_tokens_only_with_requires_republish
"**The published files**":
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_the_go_driver_finds_the_published_key_and_files_where_it_reads_them
"**A `driver.json` in each volume directory**":
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_a_driver_record_is_nothing_the_go_driver_trips_over
    unit/volumes/test_manager_takeover_by_csi_lib.py::test_a_volume_published_before_its_first_certificate_is_resumed_by_the_go_driver
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text()
SECTION = README.split("\n## Migrating from the Go drivers\n", 1)[1].split("\n## ", 1)[0]
LISTS = ("### Moving a Helm release", "### Rolling back")
UPSTREAM = REPO.parent / "shared" / "data" / "upstream"


def _claims() -> dict[str, list[str]]:
    """The docstring's table: a quoted claim, then its tests indented one per line."""
    claims: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (__doc__ or "").splitlines():
        if claim := re.fullmatch(r'"(.+)":', line):
            current = claims.setdefault(claim.group(1), [])
        elif line.startswith("    ") and current is not None:
            current.append(line.strip())
    return claims


CLAIMS = _claims()


def _flat(text: str) -> str:
    return " ".join(text.split()).replace("\\ ", "")


def _subsection(title: str) -> str:
    return SECTION.split(f"\n{title}\n", 1)[1].split("\n### ", 1)[0]


def _bullets(text: str) -> list[str]:
    """The list items of `text`, each joined onto one line."""
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    return items


def _defined(path: Path, dotted: str) -> bool:
    """Whether `Class::method`, `Class` or `function` is defined at the top of the module at `path`."""
    tree = ast.parse(path.read_text())
    scope: list[ast.stmt] = tree.body
    for part in dotted.split("::"):
        found = [n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        match = next((n for n in found if n.name == part), None)
        if match is None:
            return False
        scope = match.body if isinstance(match, ast.ClassDef) else []
    return True


def test_the_table_is_there() -> None:
    assert len(CLAIMS) >= 15


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_each_claim_is_still_in_the_guide(claim: str) -> None:
    assert _flat(claim) in _flat(SECTION), f"README's migration guide no longer says {claim!r}"


@pytest.mark.parametrize("claim", list(CLAIMS))
def test_each_claim_names_tests_that_exist(claim: str) -> None:
    for test in CLAIMS[claim]:
        path, _, name = test.partition("::")
        assert (REPO / "tests" / path).is_file(), test
        assert _defined(REPO / "tests" / path, name), f"{test}: not defined"


@pytest.mark.parametrize("title", LISTS)
def test_every_bullet_of_the_guide_is_a_claim_with_tests(title: str) -> None:
    bullets = _bullets(_subsection(title))
    assert bullets
    for bullet in bullets:
        covering = [claim for claim in CLAIMS if _flat(bullet).startswith(_flat(claim))]
        assert covering, f"README {title}: no test named for {bullet[:60]!r}"


def test_the_rollback_commands_name_upstream_s_releases() -> None:
    joined = SECTION.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line) for line in joined if line.startswith("helm rollback ")]
    releases = {words[2] for words in commands}
    assert releases == {"cert-manager-csi-driver", "cert-manager-csi-driver-spiffe"}
    assert all(words[words.index("--namespace") + 1] == "cert-manager" for words in commands)
    assert {shlex.split(line)[2] for line in joined if line.startswith("helm upgrade ")} == releases


def test_upstream_requests_tokens_only_with_requires_republish() -> None:
    """So kubelet publishes every token-requesting volume again, and csi-lib writes the fresh token down."""
    drivers = [
        doc
        for path in sorted(UPSTREAM.glob("*.rendered.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "CSIDriver"
    ]
    assert drivers
    for driver in drivers:
        if driver["spec"].get("tokenRequests"):
            assert driver["spec"].get("requiresRepublish") is True, driver["metadata"]["name"]
