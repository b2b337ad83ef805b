"""`--set` speaks Helm's syntax, and a scalar takes the type of the key it lands on."""

from __future__ import annotations

from certcsi.install import load_values


def test_several_pairs_in_one_flag() -> None:
    values = load_values("csi-driver", sets=["app.logLevel=3,app.driver.useTokenRequest=true"])
    assert values.number("app.logLevel") == 3
    assert values.flag("app.driver.useTokenRequest") is True


def test_scalars_take_the_type_of_their_key() -> None:
    values = load_values("csi-driver", sets=["image.tag=1", "app.driver.name=true", "metrics.port=9999"])
    assert values.text("image.tag") == "1"
    assert values.text("app.driver.name") == "true"
    assert values.number("metrics.port") == 9999


def test_escaped_dots_and_commas() -> None:
    values = load_values(
        "csi-driver-spiffe",
        sets=["app.extraCertificateRequestAnnotations=a=1\\,b=2", "commonLabels.example\\.com/team=x"],
    )
    assert values.text("app.extraCertificateRequestAnnotations") == "a=1,b=2"
    assert values.mapping("commonLabels") == {"example.com/team": "x"}


def test_list_literal_and_indexes() -> None:
    values = load_values(
        "csi-driver",
        sets=["app.driver.podReadinessGates={pod-ip:any,pod-annotation:ready}", "tolerations[1].key=b"],
    )
    assert values.items("app.driver.podReadinessGates") == ["pod-ip:any", "pod-annotation:ready"]
    assert values.items("tolerations") == [None, {"key": "b"}]


def test_free_form_values_are_typed_like_helm() -> None:
    values = load_values("csi-driver", sets=["affinity.a.n=3", "affinity.a.b=true", "affinity.a.s=abc"])
    assert values.mapping("affinity") == {"a": {"n": 3, "b": True, "s": "abc"}}


def test_string_maps_keep_numbers_as_text() -> None:
    assert load_values("csi-driver", sets=["podLabels.version=2"]).mapping("podLabels") == {"version": "2"}


def test_empty_value_is_the_empty_string() -> None:
    values = load_values("csi-driver-spiffe", sets=["app.issuer.name=", "app.runtimeIssuanceConfigMap=cm"])
    assert values.text("app.issuer.name") == ""
