"""A CRD schema on update: only what the write changed is judged (ratcheting), and a changed field is
judged in full; list-map keys and set members are duplicates exactly when their JSON is equal."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.crdschema import StructuralSchema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "tags": {
                    "type": "array",
                    "items": {"x-kubernetes-int-or-string": True},
                    "x-kubernetes-list-type": "set",
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"x-kubernetes-int-or-string": True}, "status": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def fields(causes: list[Any]) -> list[tuple[str, str]]:
    return [(c.reason, c.field) for c in causes]


def test_an_invalid_field_left_alone_does_not_fail_an_update_elsewhere() -> None:
    schema = StructuralSchema(SCHEMA)
    old = {"spec": {"size": 0}}  # stored before the rule, say
    assert fields(schema.validate({**old, "status": {"when": "2024-01-01T00:00:00Z"}}, old)) == []
    assert fields(schema.validate(old)) == [("FieldValueInvalid", "spec.size")]


def test_a_changed_field_is_judged_whole() -> None:
    schema = StructuralSchema(SCHEMA)
    old = {"spec": {"size": 1}, "status": {"when": "2024-01-01T00:00:00Z"}}
    new = {**old, "status": {"when": "yesterday"}}
    assert fields(schema.validate(new, old)) == [("FieldValueTypeInvalid", "status.when")]
    new = {**old, "spec": {"size": 1, "tags": [1, "1", 1]}}
    assert fields(schema.validate(new, old)) == [("FieldValueDuplicate", "spec.tags[2]")]


def test_removing_a_required_field_fails_an_update() -> None:
    schema = StructuralSchema(SCHEMA)
    old = {"spec": {"size": 1}}
    assert fields(schema.validate({"status": {}}, old)) == [("FieldValueRequired", "spec")]


def test_list_map_keys_are_duplicates_only_with_equal_json() -> None:
    schema = StructuralSchema(SCHEMA)
    distinct = {"spec": {"size": 1}, "status": {"conditions": [{"type": 1}, {"type": "1"}]}}
    assert fields(schema.validate(distinct)) == []
    same = {"spec": {"size": 1}, "status": {"conditions": [{"type": "Ready"}, {"type": "Ready", "status": "x"}]}}
    assert fields(schema.validate(same)) == [("FieldValueDuplicate", "status.conditions[1]")]
    causes = schema.validate({"spec": {"size": 1, "tags": [2, "a", 2]}})
    assert [c.message for c in causes] == ["Duplicate value: 2"]
