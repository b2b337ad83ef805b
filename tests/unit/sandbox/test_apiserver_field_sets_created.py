"""A create's fieldsV1 tree, made in one walk, is exactly what the set of its paths encodes to."""

from __future__ import annotations

from typing import Any

import pytest

from certcsi.sandbox.apiserver import fieldsets
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.shapes import Shape, root

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "p",
        "namespace": "team",
        "uid": "u",
        "labels": {"app": "a", "tier": "t"},
        "annotations": {"z": "1", "a": "2"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "ou"}],
        "finalizers": ["b", "a"],
    },
    "spec": {
        "containers": [
            {"name": "z", "image": "i", "ports": [{"containerPort": 80}, {"containerPort": 81, "protocol": "UDP"}]},
            {"name": "a", "image": "j", "env": [{"name": "E", "value": "v"}], "resources": {}},
        ],
        "volumes": [{"name": "v", "csi": {"driver": "d", "volumeAttributes": {"k": "v"}}}],
        "nodeSelector": {},
    },
    "status": {"phase": "Pending"},
}
CERTIFICATE_REQUEST = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "CertificateRequest",
    "metadata": {"name": "cr", "namespace": "team", "labels": {"csi.cert-manager.io/node-id-hash": "h"}},
    "spec": {
        "request": "LS0t",
        "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "isCA": False,
        "usages": ["digital signature", "key encipherment"],
        "extra": {"k": ["v"]},
    },
    "status": {"conditions": [{"type": "Ready", "status": "False"}]},
}
EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "p.1", "namespace": "team"},
    "involvedObject": {"kind": "Pod", "name": "p", "namespace": "team", "uid": "u"},
    "reason": "Issued",
    "message": "m",
    "source": {"component": "c"},
    "count": 1,
}
CONFIGMAP = {"metadata": {"name": "c", "labels": {}}, "data": {"b": "1", "a": "2"}, "binaryData": {}}
# Two containers of one name: their paths merge (the set form), not two nodes.
REPEATED = {
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c", "tty": True}]},
}
# List items that are empty objects: members with nothing below them.
EMPTY_ITEMS = {
    "metadata": {"name": "p"},
    "spec": {"imagePullSecrets": [{}], "containers": [{"name": "c", "ports": [{}]}], "tolerations": [{}, {"key": "k"}]},
}


def by_sets(obj: dict[str, Any], shape: Shape, without: tuple[str, ...]) -> dict[str, Any]:
    return fieldsets.encode(fieldsets.strip(fieldsets.field_set(obj, shape), reset=[(("f", k),) for k in without]))


@pytest.mark.parametrize(
    ("key", "obj", "without"),
    [
        ("/pods", POD, ("status",)),
        ("/pods", POD, ()),
        ("cert-manager.io/certificaterequests", CERTIFICATE_REQUEST, ("status",)),
        ("/events", EVENT, ()),
        ("/configmaps", CONFIGMAP, ()),
        ("/pods", REPEATED, ("status",)),
        ("/pods", EMPTY_ITEMS, ()),
    ],
)
def test_created_tree_is_the_encoded_field_set(key: str, obj: dict[str, Any], without: tuple[str, ...]) -> None:
    shape = root(BY_KEY[key])
    made = fieldsets.created(obj, shape, without=without)
    expected = by_sets(obj, shape, without)
    assert made == expected
    # The same order too: it is what a client reads in metadata.managedFields.
    assert repr(made) == repr(expected)


def test_untracked_fields_stay_out_but_what_is_below_them_stays_in() -> None:
    made = fieldsets.created(POD, root(BY_KEY["/pods"]), without=("status",))
    assert "f:apiVersion" not in made and "f:status" not in made
    assert set(made["f:metadata"]) == {"f:labels", "f:annotations", "f:ownerReferences", "f:finalizers"}
