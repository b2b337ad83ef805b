"""The runtime ConfigMap names the issuer with three keys, all required and non-empty."""

from __future__ import annotations

import pytest

from certcsi.drivers.spiffe import CONFIGMAP_KEYS, IssuerConfig
from certcsi.volumes.driver import IssuerRef

DATA = {"issuer-name": "my-issuer", "issuer-kind": "ClusterIssuer", "issuer-group": "cert-manager.io"}


def test_all_three_keys_make_an_issuer() -> None:
    config = IssuerConfig.from_configmap(DATA)
    assert config == IssuerConfig(name="my-issuer", kind="ClusterIssuer", group="cert-manager.io")
    assert config.issuer_ref == IssuerRef(name="my-issuer", kind="ClusterIssuer", group="cert-manager.io")


def test_other_keys_are_ignored() -> None:
    assert IssuerConfig.from_configmap({**DATA, "note": "x"}).name == "my-issuer"


def test_values_are_trimmed() -> None:
    config = IssuerConfig.from_configmap({k: f" {v}\n" for k, v in DATA.items()})
    assert (config.name, config.kind, config.group) == ("my-issuer", "ClusterIssuer", "cert-manager.io")


@pytest.mark.parametrize("key", CONFIGMAP_KEYS)
@pytest.mark.parametrize("value", [None, "", "  ", 3])
def test_a_missing_or_empty_key_is_named(key: str, value: object) -> None:
    data: dict[str, object] = {**DATA, key: value}
    if value is None:
        del data[key]
    with pytest.raises(ValueError, match=f"missing or empty key\\(s\\) {key} "):
        IssuerConfig.from_configmap(data)


def test_every_missing_key_is_named() -> None:
    with pytest.raises(ValueError, match="issuer-name, issuer-kind, issuer-group"):
        IssuerConfig.from_configmap(None)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("issuer-name", "CN=x", "DNS subdomain"),
        ("issuer-name", "-1", "DNS subdomain"),
        ("issuer-kind", "Cluster Issuer", "kind"),
        ("issuer-group", "Cert-Manager.io", "DNS subdomain"),
    ],
)
def test_a_value_kubernetes_could_not_name_is_refused_naming_the_key(key: str, value: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        IssuerConfig.from_configmap({**DATA, key: value})
    assert f"key {key}" in str(caught.value)
    assert fragment in str(caught.value)
