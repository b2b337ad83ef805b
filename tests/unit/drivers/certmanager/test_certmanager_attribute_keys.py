"""Unknown csi.cert-manager.io keys are rejected by name; other groups become request annotations."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import KNOWN_ATTRIBUTES, CertAttributes, request_annotations
from certcsi.errors import InvalidVolumeAttribute

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


def test_a_typo_is_rejected_with_a_suggestion(reject: Reject) -> None:
    err = reject({"csi.cert-manager.io/dns-name": "x"})
    assert err.attribute == "csi.cert-manager.io/dns-name"
    assert "unknown attribute" in err.rule
    assert "did you mean 'csi.cert-manager.io/dns-names'?" in err.rule


def test_a_far_off_key_lists_the_known_ones(reject: Reject) -> None:
    err = reject({"csi.cert-manager.io/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz": "x"})
    assert "known attributes:" in err.rule
    assert all(key in err.rule for key in KNOWN_ATTRIBUTES)


def test_old_keystore_keys_are_unknown(reject: Reject) -> None:
    assert reject({"csi.cert-manager.io/keystore-type": "PKCS12"}).attribute == "csi.cert-manager.io/keystore-type"


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
