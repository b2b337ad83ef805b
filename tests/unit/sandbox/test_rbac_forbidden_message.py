"""forbidden_message: the 403 Status message in kube-apiserver's exact words."""

from __future__ import annotations

import pytest

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.rbac import RequestAttributes, forbidden_message

SA = UserInfo("system:serviceaccount:ns:sa")
CM = "cert-manager.io"


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (
            RequestAttributes("create", CM, "certificaterequests", namespace="ns", name="foo"),
            'certificaterequests.cert-manager.io "foo" is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot create resource "certificaterequests" in API group "cert-manager.io" in the namespace "ns"',
        ),
        (
            RequestAttributes("create", CM, "certificaterequests", namespace="ns"),
            'certificaterequests.cert-manager.io is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot create resource "certificaterequests" in API group "cert-manager.io" in the namespace "ns"',
        ),
        (
            RequestAttributes("list", "", "pods", namespace="ns"),
            'pods is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot list resource "pods" in API group "" in the namespace "ns"',
        ),
        (
            RequestAttributes("update", CM, "certificaterequests", "status", namespace="ns", name="foo"),
            'certificaterequests.cert-manager.io "foo" is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot update resource "certificaterequests/status" in API group "cert-manager.io" in the namespace "ns"',
        ),
        (
            RequestAttributes("get", "storage.k8s.io", "csidrivers", name="csi.cert-manager.io"),
            'csidrivers.storage.k8s.io "csi.cert-manager.io" is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot get resource "csidrivers" in API group "storage.k8s.io" at the cluster scope',
        ),
        (
            RequestAttributes("watch", "", "configmaps", namespace="ns", name="runtime"),
            'configmaps "runtime" is forbidden: User "system:serviceaccount:ns:sa" '
            'cannot watch resource "configmaps" in API group "" in the namespace "ns"',
        ),
    ],
)
def test_shapes(attrs: RequestAttributes, expected: str) -> None:
    assert forbidden_message(SA, attrs) == expected


def test_denial_reason_is_appended() -> None:
    reason = 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    message = forbidden_message(SA, RequestAttributes("list", "", "pods", namespace="ns"), reason=reason)
    assert message.endswith('in the namespace "ns": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')


def test_names_are_quoted_like_go_and_html_is_escaped() -> None:
    odd = UserInfo('eve "<b>"\n')
    message = forbidden_message(odd, RequestAttributes("get", "", "secrets", namespace="ns", name="s"))
    assert message == (
        'secrets "s" is forbidden: User "eve \\"&lt;b&gt;\\"\\n" '
        'cannot get resource "secrets" in API group "" in the namespace "ns"'
    )
