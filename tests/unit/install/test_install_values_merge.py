"""Values merge like Helm's: defaults, then -f files in order, then --set in order; maps merge, lists replace."""

from __future__ import annotations

from pathlib import Path

from install_support import write

from certcsi.install import load_values


def test_defaults_are_upstreams() -> None:
    driver = load_values("csi-driver")
    assert driver.text("app.driver.name") == "csi.cert-manager.io"
    assert driver.flag("app.driver.useTokenRequest") is False
    assert driver.text("app.driver.csiDataDir") == "/tmp/cert-manager-csi-driver"
    assert driver.text("app.kubeletRootDir") == "/var/lib/kubelet"
    assert driver.number("app.livenessProbe.port") == 9809
    assert driver.number("metrics.port") == 9402
    assert driver.mapping("nodeSelector") == {"kubernetes.io/os": "linux"}
    spiffe = load_values("csi-driver-spiffe")
    assert spiffe.text("app.name") == "spiffe.csi.cert-manager.io"
    assert spiffe.text("app.trustDomain") == "cluster.local"
    assert spiffe.text("app.certificateRequestDuration") == "1h"
    assert [spiffe.text(f"app.issuer.{k}") for k in ("name", "kind", "group")] == [
        "spiffe-ca",
        "ClusterIssuer",
        "cert-manager.io",
    ]
    assert spiffe.number("app.approver.readinessProbe.port") == 6060
    assert spiffe.optional_text("app.driver.sourceCABundle") is None


def test_later_files_win_and_maps_merge(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "app:\n  logLevel: 4\n  driver:\n    name: a.example.com\npodLabels: {a: '1'}\n")
    second = write(tmp_path, "b.yaml", "app:\n  driver:\n    name: b.example.com\npodLabels: {b: '2'}\n")
    values = load_values("csi-driver", values_files=[first, second])
    assert values.number("app.logLevel") == 4
    assert values.text("app.driver.name") == "b.example.com"
    assert values.mapping("podLabels") == {"a": "1", "b": "2"}


def test_lists_are_replaced_not_appended(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "tolerations: [{operator: Exists}, {key: a}]\n")
    second = write(tmp_path, "b.yaml", "tolerations: [{key: b}]\n")
    assert load_values("csi-driver", values_files=[first, second]).items("tolerations") == [{"key": "b"}]


def test_set_wins_over_files_and_later_set_wins(tmp_path: Path) -> None:
    file = write(tmp_path, "v.yaml", "app:\n  trustDomain: from.file\n")
    values = load_values(
        "csi-driver-spiffe", values_files=[file], sets=["app.trustDomain=first", "app.trustDomain=second"]
    )
    assert values.text("app.trustDomain") == "second"


def test_map_defaults_are_coalesced_and_null_removes_a_default_key() -> None:
    added = load_values("csi-driver", sets=["nodeSelector.pool=certs"])
    assert added.mapping("nodeSelector") == {"kubernetes.io/os": "linux", "pool": "certs"}
    removed = load_values("csi-driver", sets=["nodeSelector.kubernetes\\.io/os=null"])
    assert removed.mapping("nodeSelector") == {}
    whole = load_values("csi-driver", sets=["securityContext=null"])
    assert whole.get("securityContext") is None


def test_empty_values_file_changes_nothing(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.yaml", "# nothing\n")
    assert load_values("csi-driver", values_files=[empty]) == load_values("csi-driver")
