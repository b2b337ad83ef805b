"""Unknown csi.cert-manager.io keys are ignored and reported (rejected when strict); other groups become annotations."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import (
    KNOWN_ATTRIBUTES,
    CertAttributes,
    request_annotations,
)
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]

# Every key of upstream csi-driver's pkg/apis/v1alpha1/types.go at its latest release.
UPSTREAM_KEYS = {
    f"csi.cert-manager.io/{name}"
    for name in (
        "issuer-name", "issuer-kind", "issuer-group", "literal-subject", "common-name", "organizations",
        "organizationalunits", "countries", "provinces", "localities", "streetaddresses", "postalcodes",
        "serialnumber", "dns-names", "ip-sans", "uri-sans", "duration", "is-ca", "key-usages", "key-algorithm",
        "key-encoding", "key-size", "ca-file", "certificate-file", "privatekey-file", "fs-group", "renew-before",
        "reuse-private-key", "pkcs12-enable", "pkcs12-filename", "pkcs12-password",
    )
}  # fmt: skip


def test_every_key_upstream_knows_is_known() -> None:
    assert UPSTREAM_KEYS <= KNOWN_ATTRIBUTES


def test_a_typo_is_accepted_and_reported(parse: Parse) -> None:
    attrs = parse({"csi.cert-manager.io/dns-name": "x", "csi.cert-manager.io/keystore-pkcs12-enable": "true"})
    assert attrs.unknown_attributes == ("csi.cert-manager.io/dns-name", "csi.cert-manager.io/keystore-pkcs12-enable")
    assert attrs.dns_names == ("my-pod.sandbox.svc",)
    assert not attrs.pkcs12_enabled


def test_strict_parsing_rejects_a_typo_with_a_suggestion(reject_strict: Reject) -> None:
    err = reject_strict({"csi.cert-manager.io/dns-name": "x"})
    assert err.attribute == "csi.cert-manager.io/dns-name"
    assert "unknown attribute" in err.rule
    assert "did you mean 'csi.cert-manager.io/dns-names'?" in err.rule


def test_the_names_upstreams_docs_print_point_at_the_real_keys(reject_strict: Reject) -> None:
    err = reject_strict({"csi.cert-manager.io/keystore-pkcs12-enable": "true"})
    assert "did you mean 'csi.cert-manager.io/pkcs12-enable'?" in err.rule


def test_a_far_off_key_lists_the_known_ones(reject_strict: Reject) -> None:
    err = reject_strict({"csi.cert-manager.io/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz": "x"})
    assert "known attributes:" in err.rule
    assert all(key in err.rule for key in KNOWN_ATTRIBUTES)


def test_kubelet_and_other_group_keys_are_not_validated_as_ours(parse: Parse) -> None:
    parse(
        {
            "csi.storage.k8s.io/serviceAccount.tokens": "{}",
            "venafi.cert-manager.io/custom-fields": "[]",
            "no-slash": "x",
        }
    )


def test_annotations_are_the_other_groups_only() -> None:
    context = {
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.cert-manager.io/pkcs12-password": "secret",
        "csi.storage.k8s.io/pod.name": "p",
        "csi.storage.k8s.io/serviceAccount.tokens": "{}",
        "venafi.cert-manager.io/custom-fields": '[{"name": "a", "value": "b"}]',
        "example.com/team": "payments",
        "no-slash": "dropped",
    }
    assert request_annotations(context) == {
        "venafi.cert-manager.io/custom-fields": '[{"name": "a", "value": "b"}]',
        "example.com/team": "payments",
    }


@pytest.mark.parametrize(
    "key", ["Example.com/x", "example.com/", "example.com/-x", "exa mple.com/x", "/x", "example.com/" + "n" * 64]
)
def test_annotation_keys_must_be_valid_kubernetes_keys(reject: Reject, key: str) -> None:
    err = reject({key: "v"})
    assert err.attribute == key
    assert "annotation key" in err.rule
