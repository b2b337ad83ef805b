"""Request bodies as kube-apiserver decodes them: JSON or YAML by Content-Type, the kind and apiVersion
checked, typed decoding of built-in kinds (a value of the wrong JSON type is 400 BadRequest), and
unknown fields found for `fieldValidation` (Ignore, Warn: a `Warning` header each, Strict: 400).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from certcsi.sandbox.apiserver import protobodies, schemas
from certcsi.sandbox.apiserver.crdschema import json_type
from certcsi.sandbox.apiserver.errors import ApiError, bad_request
from certcsi.sandbox.apiserver.patching import media_type, unsupported_media_type
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.schemagen import REF_PREFIX

JSON: Final = "application/json"
YAML: Final = "application/yaml"
PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
BUILTIN_BODY_TYPES: Final = (JSON, YAML, PROTOBUF)
CUSTOM_BODY_TYPES: Final = (JSON, YAML)
DIRECTIVES: Final = ("Ignore", "Warn", "Strict")
_MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_TIME_REF = f"{schemas.META}.MicroTime"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every body: json.loads with an option builds a new decoder (and scanner) per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json(raw: bytes) -> Any:
    """A request body as JSON; 400 BadRequest when it is not (NaN and Infinity are not JSON)."""
    try:
        # What json.loads does with bytes: the encoding detected (UTF-8, -16 or -32, BOM or not).
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except RecursionError:
        raise bad_request("the request body is nested too deeply to decode") from None
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


class _SafeLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it (sigs.k8s.io/yaml): timestamps stay strings."""


_SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_yaml(raw: bytes) -> Any:
    """A YAML body (one document) as JSON values; 400 BadRequest when it is not YAML."""
    try:
        return yaml.load(raw, Loader=_SafeLoader)
    except RecursionError:
        raise bad_request("the request body is nested too deeply to decode") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise bad_request(f"error converting YAML to JSON: yaml: {problem}") from None
    except ValueError as exc:
        raise bad_request(f"error converting YAML to JSON: {exc}") from None


def decode_body(raw: bytes, content_type: str | None, *, accepted: tuple[str, ...], kind: str = "") -> Any:
    """The body by its Content-Type (absent means JSON, as in kube-apiserver); 415 for any other.

    Protobuf is read for the kinds clients send that way (protobodies.py); for others it is 415 too.
    """
    media = media_type(content_type)
    if media in ("", JSON):
        return decode_json(raw)
    if media == YAML and YAML in accepted:
        return decode_yaml(raw)
    if media == PROTOBUF and PROTOBUF in accepted and (decoded := protobodies.decode(raw, kind=kind)) is not None:
        return decoded
    raise unsupported_media_type(accepted)


def check_kind(body: Any, *, kind: str, api_version: str) -> dict[str, Any]:
    """The decoded body as an object of `kind` in `api_version` (either may be left out)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    if body.get("apiVersion") not in (None, "", api_version):
        raise bad_request(
            f"the API version in the data ({body['apiVersion']}) does not match "
            f"the expected API version ({api_version})"
        )
    if body.get("kind") not in (None, "", kind):
        raise bad_request(f'{body["kind"]} in version "{api_version}" cannot be handled as a {kind}')
    return body


def field_validation(query: Mapping[str, str]) -> str:
    """The `fieldValidation` directive (Warn when unset); 400 for any other value."""
    value = query.get("fieldValidation", "")
    if value == "":
        return "Warn"
    if value not in DIRECTIVES:
        raise bad_request(
            f'fieldValidation: Unsupported value: "{value}": supported values: "Ignore", "Strict", "Warn"'
        )
    return value


def _decode_error(rt: ResourceType, detail: str) -> ApiError:
    return bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {detail}')


def _micro_time_problem(value: Any) -> str | None:
    if not isinstance(value, str) or _MICRO_TIME.match(value):
        return None
    return f'parsing time "{value}" as "{_MICRO_LAYOUT}": cannot parse "{value[19:]}" as ".000000"'


@functools.cache
def _has_micro_times(definition: str) -> bool:
    """Whether a definition reaches a MicroTime field at all (Lease and Event do; most kinds do not)."""
    seen: set[str] = set()
    pending = [definition]
    while pending:
        name = pending.pop()
        if name == _MICRO_TIME_REF:
            return True
        if name in seen or name not in schemas.definitions():
            continue
        seen.add(name)
        text = json.dumps(schemas.definitions()[name])
        pending.extend(part.split('"')[0] for part in text.split(REF_PREFIX)[1:])
    return False


@functools.cache
def _reaches_micro_time(node: schemas.Node) -> bool:
    """Whether a MicroTime field can be found at or below this schema position."""
    if node.name:
        return _has_micro_times(node.name)
    text = json.dumps(node.target)
    return any(_has_micro_times(part.split('"')[0]) for part in text.split(REF_PREFIX)[1:])


@functools.cache
def _micro_time_fields(node: schemas.Node) -> frozenset[str]:
    """The properties of this schema position at or below which a MicroTime field can be found."""
    properties = node.properties or {}
    return frozenset(key for key, sub in properties.items() if _reaches_micro_time(schemas.Node(sub)))


def _micro_times(value: Any, node: schemas.Node) -> str | None:
    """The first MicroTime field whose text is not RFC 3339 with microseconds (metav1.MicroTime)."""
    if node.name == _MICRO_TIME_REF:
        return _micro_time_problem(value)
    if not _reaches_micro_time(node):
        return None
    if isinstance(value, dict) and node.properties is not None:
        fields = _micro_time_fields(node)
        for key, item in value.items():  # in the body's order, as Go's decoder meets them
            child = node.child(key) if key in fields else None
            if child is not None and (problem := _micro_times(item, child)) is not None:
                return problem
    elif isinstance(value, list) and node.items is not None:
        items = schemas.Node(node.items)
        for item in value:
            if (problem := _micro_times(item, items)) is not None:
                return problem
    return None


def unknown_fields(rt: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Fields of `obj` its type does not know (dropped from a built-in kind's object, as Go's decoder
    drops them; a custom resource's are pruned by the store); raises 400 for a value a typed decoder
    cannot take."""
    found: list[str] = []
    if rt.definition:
        root = schemas.definition_ref(rt.definition)
        for what, path, problem in schemas.walk(obj, root):
            if what == "unknown":
                found.append(path)
            elif problem is not None:
                raise _decode_error(
                    rt,
                    f"json: cannot unmarshal {_go_json(problem.actual)} into Go struct field "
                    f"{problem.struct or rt.kind}.{problem.path} of type {problem.go_type}",
                )
        if _has_micro_times(rt.definition) and (problem_text := _micro_times(obj, schemas.Node(root))) is not None:
            raise _decode_error(rt, problem_text)
        if found:
            schemas.prune(obj, root)
        return found
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta_schema = schemas.definition_ref(schemas.OBJECT_META)
        found.extend(path for what, path, _ in schemas.walk(meta, meta_schema, "metadata") if what == "unknown")
        if found:
            schemas.prune(meta, meta_schema)
    if rt.custom is not None:
        found.extend(rt.custom.schema.unknown_fields(obj))
    return found


def _go_json(kind: str) -> str:
    return {"integer": "number", "null": "null"}.get(kind, kind)


def json_kind(value: Any) -> str:
    """How Go's JSON decoder names the type of `value` in an unmarshal error."""
    return _go_json(json_type(value))


def apply_directive(rt: ResourceType, unknown: list[str], directive: str) -> list[str]:
    """The `Warning` texts for unknown fields under Warn; 400 under Strict; nothing under Ignore."""
    if not unknown or directive == "Ignore":
        return []
    messages = [f'unknown field "{path}"' for path in unknown]
    if directive == "Strict":
        detail = "strict decoding error: " + ", ".join(messages)
        raise bad_request(detail) if rt.crd else _decode_error(rt, detail)
    return messages
