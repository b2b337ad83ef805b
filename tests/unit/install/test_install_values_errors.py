"""Bad values fail naming the key: unknown keys with their closest matches, wrong types with expected/got."""

from __future__ import annotations

from pathlib import Path

import pytest
from install_support import write

from certcsi.install import ValuesError, load_values, render


def _error(chart: str, *sets: str, files: tuple[Path, ...] = ()) -> ValuesError:
    with pytest.raises(ValuesError) as caught:
        render(chart, values_files=files, sets=sets)  # type: ignore[arg-type]
    return caught.value


def test_unknown_key_names_it_and_suggests_the_close_one() -> None:
    error = _error("csi-driver-spiffe", "app.trustDomian=example.org")
    assert error.key == "app.trustDomian"
    assert "unknown value key 'app.trustDomian'" in str(error)
    assert "app.trustDomain" in str(error)


def test_unknown_key_from_a_file_is_named_with_its_full_path(tmp_path: Path) -> None:
    file = write(tmp_path, "v.yaml", "app:\n  driver:\n    useTokenRequests: true\n")
    error = _error("csi-driver", files=(file,))
    assert error.key == "app.driver.useTokenRequests"
    assert "did you mean app.driver.useTokenRequest?" in str(error)


def test_unknown_key_with_nothing_close_lists_its_siblings() -> None:
    error = _error("csi-driver", "app.zzz=1")
    assert "app.zzz" in str(error) and "app.logLevel" in str(error)


def test_a_key_of_the_other_chart_is_unknown() -> None:
    error = _error("csi-driver-spiffe", "app.driver.useTokenRequest=true")
    assert error.key == "app.driver.useTokenRequest"
    assert "app.driver.useOwnServiceAccount" in str(error) and "app.driver.volumes" in str(error)


def test_a_case_slip_is_caught() -> None:
    error = _error("csi-driver-spiffe", "app.approver.autoApproveNonSPIFFE=true")
    assert "did you mean app.approver.autoApproveNonSpiffe?" in str(error)


@pytest.mark.parametrize(
    ("chart", "setting", "key", "expected", "got"),
    [
        ("csi-driver", "app.logLevel=abc", "app.logLevel", "integer", "string 'abc'"),
        ("csi-driver", "app.driver.useTokenRequest=yes", "app.driver.useTokenRequest", "boolean", "string 'yes'"),
        ("csi-driver", "tolerations.key=a", "tolerations", "array", "object"),
        ("csi-driver", "app.driver.name=null", "app.driver.name", "string", "null"),
        ("csi-driver", "podLabels.a.b=c", "podLabels.a", "string", "object"),
        ("csi-driver-spiffe", "app=flat", "app", "object", "string 'flat'"),
    ],
)
def test_wrong_type_names_key_expected_and_got(chart: str, setting: str, key: str, expected: str, got: str) -> None:
    error = _error(chart, setting)
    assert error.key == key
    assert str(error) == f"value {key}: expected {expected}, got {got}"


def test_wrong_type_in_a_file(tmp_path: Path) -> None:
    file = write(tmp_path, "v.yaml", "app:\n  trustDomain: 42\n  approver:\n    replicaCount: two\n")
    assert str(_error("csi-driver-spiffe", files=(file,))) == "value app.trustDomain: expected string, got number 42"


def test_booleans_are_not_numbers(tmp_path: Path) -> None:
    file = write(tmp_path, "v.yaml", "metrics:\n  port: true\n")
    assert "expected integer, got boolean true" in str(_error("csi-driver", files=(file,)))


@pytest.mark.parametrize(
    ("chart", "setting", "rule"),
    [
        ("csi-driver", "metrics.port=70000", "must be a port number between 1 and 65535"),
        ("csi-driver", "app.kubeletRootDir=var/lib/kubelet", "must be an absolute path"),
        ("csi-driver", "image.pullPolicy=Sometimes", "must be one of Always, IfNotPresent, Never"),
        ("csi-driver-spiffe", "app.certificateRequestDuration=1d", "must be a Go duration"),
        ("csi-driver-spiffe", "app.certificateRequestDuration=0s", "must be a positive duration"),
        ("csi-driver-spiffe", "app.approver.replicaCount=-1", "must not be negative"),
        ("csi-driver", "release.namespace=Cert_Manager", "must be a DNS label"),
        ("csi-driver", "openshift.securityContextConstraint.enabled=yes", 'must be true, false or "detect"'),
        ("csi-driver-spiffe", "nameOverride=-x", "must be a DNS label"),
        ("csi-driver", "app.driver.name=CSI.example.com", "must be a lowercase DNS name"),
    ],
)
def test_rules_beyond_types_name_the_key(chart: str, setting: str, rule: str) -> None:
    error = _error(chart, setting)
    assert error.key == setting.split("=", maxsplit=1)[0]
    assert rule in str(error)


def test_spiffe_needs_an_issuer_or_a_runtime_config_map() -> None:
    error = _error("csi-driver-spiffe", "app.issuer.name=")
    assert error.key == "app.issuer.name"
    assert "app.runtimeIssuanceConfigMap" in str(error)


def test_set_without_equals_or_with_an_empty_segment() -> None:
    assert "expected key=value" in str(_error("csi-driver", "app.logLevel"))
    assert "empty key segment" in str(_error("csi-driver", "app..logLevel=1"))


def test_missing_file(tmp_path: Path) -> None:
    error = _error("csi-driver", files=(tmp_path / "nope.yaml",))
    assert "nope.yaml" in str(error) and "cannot read" in str(error)


def test_invalid_yaml_file(tmp_path: Path) -> None:
    error = _error("csi-driver", files=(write(tmp_path, "bad.yaml", "app: [unclosed\n"),))
    assert "bad.yaml" in str(error) and "not valid YAML" in str(error)


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    error = _error("csi-driver", files=(write(tmp_path, "list.yaml", "- a\n- b\n"),))
    assert "expected a mapping of keys at the top, got array" in str(error)


def test_unknown_chart() -> None:
    with pytest.raises(ValuesError, match="unknown chart 'csi-driver-x'"):
        load_values("csi-driver-x")  # type: ignore[arg-type]
