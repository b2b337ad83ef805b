"""Field sets as structured-merge-diff computes them, and their fieldsV1 encoding."""

from __future__ import annotations

from certcsi.sandbox.apiserver import fieldsets
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.shapes import root

CONFIGMAP = root(BY_KEY["/configmaps"])
POD = root(BY_KEY["/pods"])


def test_an_applied_configmap_owns_its_leaves_and_map_keys() -> None:
    paths = fieldsets.field_set({"data": {"a": "1"}, "metadata": {"labels": {"x": "y"}}}, CONFIGMAP)
    assert fieldsets.encode(fieldsets.strip(paths)) == {
        "f:data": {"f:a": {}},
        "f:metadata": {"f:labels": {"f:x": {}}},
    }


def test_keyed_list_items_are_members_with_their_fields() -> None:
    pod = {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}
    encoded = fieldsets.encode(fieldsets.field_set(pod, POD))
    container = encoded["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert container["."] == {} and container["f:image"] == {}
    # A port's protocol, left out, is keyed by its default as the server keys it.
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]


def test_encoding_round_trips() -> None:
    paths = fieldsets.field_set({"data": {"a": "1", "b": "2"}}, CONFIGMAP)
    assert fieldsets.decode(fieldsets.encode(paths)) == paths


def test_an_update_takes_what_it_changed() -> None:
    changed, removed = fieldsets.changes({"data": {"a": "1", "b": "2"}}, {"data": {"a": "9", "c": "3"}}, CONFIGMAP)
    assert changed == {(("f", "data"), ("f", "a")), (("f", "data"), ("f", "c"))}
    assert removed == {(("f", "data"), ("f", "b"))}


def test_paths_render_as_kube_apiserver_writes_them() -> None:
    path = (("f", "spec"), ("f", "containers"), ("k", '{"name":"c"}'), ("f", "image"))
    assert fieldsets.render(path) == '.spec.containers[name="c"].image'
