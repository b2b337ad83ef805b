"""Variables in attributes expand exactly as Go's os.Expand does in csi-driver."""

from __future__ import annotations

import pytest

from certcsi.drivers.certmanager.variables import KNOWN_VARIABLES, expand, pod_variables
from certcsi.errors import InvalidVolumeAttribute

VARS = {
    "POD_NAME": "my-pod-name",
    "POD_NAMESPACE": "my-namespace",
    "POD_UID": "my-pod-uuid",
    "SERVICE_ACCOUNT_NAME": "my-service-account",
}
KNOWN = "known variables: [POD_NAME POD_NAMESPACE POD_UID SERVICE_ACCOUNT_NAME]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("plain", "plain"),
        ("${POD_NAME}.${POD_NAMESPACE}.svc", "my-pod-name.my-namespace.svc"),
        ("$POD_NAME-$POD_NAMESPACE", "my-pod-name-my-namespace"),
        (
            "foo-$POD_NAME-,,${POD_NAMESPACE},$POD_UID,${SERVICE_ACCOUNT_NAME}",
            "foo-my-pod-name-,,my-namespace,my-pod-uuid,my-service-account",
        ),
        ("$POD_NAME.x", "my-pod-name.x"),  # a name stops at the first non [A-Za-z0-9_]
        ("cost: 5$", "cost: 5$"),  # a trailing $ stays
        ("a$.b", "a$.b"),  # $ followed by a non-name character stays
        ("a${}b", "ab"),  # ${} is dropped
        ("a${POD_NAME", "aPOD_NAME"),  # an unclosed ${ is dropped, the rest kept
    ],
)
def test_expands_like_go_os_expand(text: str, expected: str) -> None:
    assert expand(text, VARS, attribute="a") == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("$Foo", ['"Foo"']),
        ("${POD_NAME}.$Foo${Bar}", ['"Foo"', '"Bar"']),
        ("$$", ['"$"']),  # Go passes "$" to the mapping: an undefined variable, not an escape
        ("$1", ['"1"']),
        ("${-}", ['"-"']),
        ("${pod_name}", ['"pod_name"']),  # names are case-sensitive
    ],
)
def test_undefined_variables_are_all_named(text: str, names: list[str]) -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        expand(text, VARS, attribute="csi.cert-manager.io/dns-names")
    listed = ", ".join(f"undefined variable {name}" for name in names)
    assert info.value.rule == f"{listed}, {KNOWN}"
    assert info.value.attribute == "csi.cert-manager.io/dns-names"


def test_pod_variables_come_from_pod_info_and_default_to_empty() -> None:
    context = {
        "csi.storage.k8s.io/pod.name": "p",
        "csi.storage.k8s.io/pod.namespace": "ns",
        "csi.storage.k8s.io/pod.uid": "u",
        "csi.storage.k8s.io/serviceAccount.name": "sa",
    }
    assert pod_variables(context) == {
        "POD_NAME": "p",
        "POD_NAMESPACE": "ns",
        "POD_UID": "u",
        "SERVICE_ACCOUNT_NAME": "sa",
    }
    assert pod_variables({}) == dict.fromkeys(KNOWN_VARIABLES, "")
