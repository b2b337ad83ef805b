"""Helm values for `certcsi install`: each chart's keys and defaults (upstream's, plus a few marked
certcsi extensions), merged from `-f` files and `--set` the way Helm merges them, and type checked.

An unknown key is an error naming the key and its closest known keys; a value of the wrong type is an
error naming the key, the expected type and what was given. Every upstream key is accepted; the few
this implementation cannot honour say so in a comment next to their definition.
"""

from __future__ import annotations

import copy
import difflib
import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypeVar

import yaml

from certcsi import __version__
from certcsi.durations import parse_go_duration
from certcsi.install import _sets
from certcsi.install._errors import ValuesError

Chart = Literal["csi-driver", "csi-driver-spiffe"]
CHARTS: tuple[Chart, ...] = ("csi-driver", "csi-driver-spiffe")

# The image `certcsi install` deploys unless told otherwise; one image serves the drivers and the approver.
CERTCSI_IMAGE = "ghcr.io/certcsi/certcsi"
CERTCSI_VERSION = __version__


class Kind(enum.Enum):
    """What a key holds; the value is the word used in error messages."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    BOOLEAN_OR_STRING = "boolean or string"
    OBJECT = "object"  # free-form (resources, affinity, ...): deep-merged with its default like Helm
    STRING_MAP = "map of strings"  # labels, annotations, nodeSelector
    ARRAY = "array"  # free-form list, replaced whole
    STRING_ARRAY = "array of strings"
    ANY = "any value"


_T = TypeVar("_T")
_FREE_FORM = {Kind.OBJECT, Kind.STRING_MAP, Kind.ARRAY, Kind.STRING_ARRAY, Kind.ANY}
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Leaf:
    """One value key: its kind, its default, whether null is allowed, and an extra rule."""

    kind: Kind
    default: Any
    nullable: bool = False
    check: Check | None = None


Tree: TypeAlias = Mapping[str, "Leaf | Tree"]


def _string(default: str | None = "", check: Check | None = None) -> Leaf:
    return Leaf(Kind.STRING, default, nullable=default is None, check=check)


def _integer(default: int, check: Check | None = None) -> Leaf:
    return Leaf(Kind.INTEGER, default, check=check)


def _boolean(default: bool) -> Leaf:
    return Leaf(Kind.BOOLEAN, default)


def _object(default: Mapping[str, Any] | None = None) -> Leaf:
    return Leaf(Kind.OBJECT, dict(default or {}))


def _string_map(default: Mapping[str, str] | None = None) -> Leaf:
    return Leaf(Kind.STRING_MAP, dict(default or {}))


def _array(kind: Kind = Kind.ARRAY) -> Leaf:
    return Leaf(kind, [])


def _port(value: Any) -> str | None:
    return None if 1 <= value <= 65535 else "must be a port number between 1 and 65535"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must not be negative"


def _absolute_path(value: Any) -> str | None:
    return None if value.startswith("/") else "must be an absolute path"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _dns_label(value: Any) -> str | None:
    # Names become object names and label values: lowercase letters, digits and '-', at most 63.
    if value == "" or _DNS_LABEL.match(value):
        return None
    return "must be a DNS label (lowercase letters, digits and '-', at most 63 characters)"


def _driver_name(value: Any) -> str | None:
    # The CSIDriver object's name, which kubelet also matches against GetPluginInfo.
    if len(value) <= 63 and _DNS_SUBDOMAIN.match(value):
        return None
    return "must be a lowercase DNS name of at most 63 characters (like csi.cert-manager.io)"


def _true_false_or_detect(value: Any) -> str | None:
    return None if isinstance(value, bool) or value == "detect" else 'must be true, false or "detect"'


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _go_duration(value: Any) -> str | None:
    try:
        parsed = parse_go_duration(value)
    except ValueError as e:
        return f"must be a Go duration such as 1h or 30m ({e})"
    return None if parsed.total_seconds() > 0 else "must be a positive duration"


_pull_policy = _one_of("Always", "IfNotPresent", "Never")


def _image(repository: str, tag: str | None) -> Tree:
    """Upstream's image block: `registry` is prepended to `repository`; `digest` wins over `tag`."""
    return {
        "registry": _string(None),
        "repository": _string(repository),
        "tag": _string(tag),
        "digest": _string(None),
        "pullPolicy": _string("IfNotPresent", _pull_policy),
    }


_NODE_DRIVER_REGISTRAR = "registry.k8s.io/sig-storage/csi-node-driver-registrar"
_NODE_DRIVER_REGISTRAR_TAG = "v2.15.0@sha256:11f199f6bec47403b03cb49c79a41f445884b213b382582a60710b8c6fdc316a"
_LIVENESS_PROBE = "registry.k8s.io/sig-storage/livenessprobe"
_LIVENESS_PROBE_TAG = "v2.18.0@sha256:c4cc074199c045dd73ab85f28897e2a32f4d6f38ffdba4f3b13b8007ccbd3570"

_SIDECAR_SECURITY_CONTEXT = {
    "runAsUser": 0,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
# Privileged because the driver mounts tmpfs and read-only bind mounts that must propagate to the
# host (Bidirectional propagation is only allowed in privileged containers).
_DRIVER_SECURITY_CONTEXT = {
    "privileged": True,
    "runAsUser": 0,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _common(release_name: str) -> Tree:
    """Keys both charts share (pod placement, labels, security contexts, OpenShift, release)."""
    return {
        # certcsi extension: Helm takes these from `helm install <name> -n <namespace>`.
        "release": {
            "name": _string(release_name, _dns_label),
            "namespace": _string("cert-manager", _dns_label),
        },
        # Upstream's name helper reads it although its values.yaml does not list it.
        "nameOverride": _string("", _dns_label),
        # No-op: there are no subcharts to share values with.
        "global": Leaf(Kind.ANY, None, nullable=True),
        "imagePullSecrets": _array(),
        "commonLabels": _string_map(),
        "priorityClassName": _string(""),
        "nodeSelector": _string_map({"kubernetes.io/os": "linux"}),
        "affinity": _object(),
        "tolerations": _array(),
        # Newer upstream charts make the security contexts configurable; null removes one (the driver's
        # keeps privileged and runAsUser 0, without which it cannot mount).
        "podSecurityContext": _object({"seccompProfile": {"type": "RuntimeDefault"}}),
        "securityContext": _object(_DRIVER_SECURITY_CONTEXT),
        "nodeDriverRegistrarSecurityContext": _object(_SIDECAR_SECURITY_CONTEXT),
        # Named after nodeDriverRegistrarSecurityContext (upstream's tests show that one, not this one).
        "livenessProbeSecurityContext": _object(_SIDECAR_SECURITY_CONTEXT),
        "openshift": {
            "securityContextConstraint": {
                # true adds the RBAC to `use` the SCC. "detect" asks the cluster whether it is OpenShift,
                # which a pure renderer cannot do: it renders as false (say true on OpenShift).
                "enabled": Leaf(Kind.BOOLEAN_OR_STRING, "detect", nullable=True, check=_true_false_or_detect),
                "name": _string("privileged"),
            },
        },
    }


def _csi_driver_tree() -> Tree:
    return {
        **_common("cert-manager-csi-driver"),
        "metrics": {
            "enabled": _boolean(True),
            "port": _integer(9402, _port),
            "podmonitor": {
                "enabled": _boolean(False),
                "namespace": _string(None),
                "prometheusInstance": _string("default"),
                "interval": _string("60s"),
                "scrapeTimeout": _string("30s"),
                "labels": _string_map(),
                "annotations": _string_map(),
                "honorLabels": _boolean(False),
                "endpointAdditionalProperties": _object(),
            },
        },
        "image": _image(CERTCSI_IMAGE, None),
        "nodeDriverRegistrarImage": _image(_NODE_DRIVER_REGISTRAR, _NODE_DRIVER_REGISTRAR_TAG),
        "livenessProbeImage": _image(_LIVENESS_PROBE, _LIVENESS_PROBE_TAG),
        "app": {
            "logLevel": _integer(1, _not_negative),
            "driver": {
                "name": _string("csi.cert-manager.io", _driver_name),
                "useTokenRequest": _boolean(False),
                "csiDataDir": _string("/tmp/cert-manager-csi-driver", _absolute_path),
                # certcsi extension: `--pod-readiness-gate` values (pod-ip:any, pod-condition:Type=Status,
                # pod-annotation:key); any gate makes the driver watch the pods on its node.
                "podReadinessGates": _array(Kind.STRING_ARRAY),
            },
            "livenessProbe": {"port": _integer(9809, _port)},
            "kubeletRootDir": _string("/var/lib/kubelet", _absolute_path),
        },
        "daemonSetAnnotations": _string_map(),
        "podAnnotations": _string_map(),
        "podLabels": _string_map(),
        "resources": _object(),
    }


def _spiffe_tree() -> Tree:
    deprecated_image: Tree = {
        # Upstream's older image block, still honoured and preferred field by field over
        # driverImage / approverImage, as upstream does.
        "registry": _string(None),
        "repository": {"driver": _string(None), "approver": _string(None)},
        "tag": _string(None),
        "digest": {"driver": _string(None), "approver": _string(None)},
        "pullPolicy": _string(None, _pull_policy),
    }
    return {
        **_common("cert-manager-csi-driver-spiffe"),
        "image": deprecated_image,
        "driverImage": _image(CERTCSI_IMAGE, None),
        "approverImage": _image(CERTCSI_IMAGE, None),
        "topologySpreadConstraints": _array(),
        "app": {
            "logLevel": _integer(1, _not_negative),
            "certificateRequestDuration": _string("1h", _go_duration),
            "runtimeIssuanceConfigMap": _string(""),
            "extraCertificateRequestAnnotations": _string(None),
            "trustDomain": _string("cluster.local"),
            "name": _string("spiffe.csi.cert-manager.io", _driver_name),
            "issuer": {
                "name": _string("spiffe-ca"),
                "kind": _string("ClusterIssuer"),
                "group": _string("cert-manager.io"),
            },
            # certcsi extension (upstream hard-codes /var/lib/kubelet here); same key as csi-driver's.
            "kubeletRootDir": _string("/var/lib/kubelet", _absolute_path),
            "driver": {
                "sourceCABundle": _string(None),
                "volumeFileName": {"cert": _string("tls.crt"), "key": _string("tls.key"), "ca": _string("ca.crt")},
                "volumes": _array(),
                "volumeMounts": _array(),
                # Upstream defaults both charts to /tmp/cert-manager-csi-driver; two drivers on one node
                # would then mount their tmpfs on the same host path, so this chart gets its own.
                "csiDataDir": _string("/tmp/cert-manager-csi-driver-spiffe", _absolute_path),
                "resources": _object(),
                "useOwnServiceAccount": _boolean(False),
                "nodeDriverRegistrarImage": _image(_NODE_DRIVER_REGISTRAR, _NODE_DRIVER_REGISTRAR_TAG),
                "livenessProbeImage": _image(_LIVENESS_PROBE, _LIVENESS_PROBE_TAG),
                "livenessProbe": {"port": _integer(9809, _port)},
            },
            "approver": {
                "replicaCount": _integer(1, _not_negative),
                "signerName": _string(""),
                "autoApproveNonSpiffe": _boolean(False),
                "readinessProbe": {"port": _integer(6060, _port)},
                "metrics": {
                    "port": _integer(9402, _port),
                    "service": {
                        "enabled": _boolean(True),
                        "type": _string("ClusterIP", _one_of("ClusterIP", "NodePort", "LoadBalancer")),
                        "servicemonitor": {
                            "enabled": _boolean(False),
                            "prometheusInstance": _string("default"),
                            "interval": _string("10s"),
                            "scrapeTimeout": _string("5s"),
                            "labels": _string_map(),
                        },
                    },
                },
                "resources": _object(),
            },
        },
    }


SCHEMAS: Mapping[Chart, Tree] = {"csi-driver": _csi_driver_tree(), "csi-driver-spiffe": _spiffe_tree()}


@dataclass(frozen=True)
class Values:
    """The resolved values of one chart: every key present, each of its declared kind."""

    chart: Chart
    tree: Mapping[str, Any]

    def get(self, key: str) -> Any:
        node: Any = self.tree
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(key)
            node = node[part]
        return node

    def text(self, key: str) -> str:
        return self._typed(key, str, "")

    def optional_text(self, key: str) -> str | None:
        """The string, or None when the key is null or empty."""
        return self._typed(key, str, None) or None

    def number(self, key: str) -> int:
        return self._typed(key, int, 0)

    def flag(self, key: str) -> bool:
        return self._typed(key, bool, False)

    def mapping(self, key: str) -> dict[str, Any]:
        return copy.deepcopy(self._typed(key, dict, {}))

    def items(self, key: str) -> list[Any]:
        return copy.deepcopy(self._typed(key, list, []))

    def _typed(self, key: str, kind: type[_T], if_null: _T) -> _T:
        value = self.get(key)
        if value is None:
            return if_null
        if not isinstance(value, kind):
            raise TypeError(f"{key} holds {type(value).__name__}, not {kind.__name__}")
        return value


def load_values(chart: Chart, *, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> Values:
    """Defaults, then each `-f` file deep-merged in order, then each `--set` in order; then checked."""
    if chart not in SCHEMAS:
        raise ValuesError(f"unknown chart {chart!r}: expected one of {', '.join(CHARTS)}")
    given: dict[str, Any] = {}
    for path in values_files:
        _merge(given, _read(path))
    for flag in sets:
        for assignment in _sets.parse_set(flag):
            _sets.apply(given, assignment)
    schema = SCHEMAS[chart]
    return Values(chart=chart, tree=_resolve(schema, given, prefix="", all_keys=sorted(_keys(schema))))


def _read(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValuesError(f"values file {str(path)!r}: cannot read it ({e.strerror or e})") from e
    except yaml.YAMLError as e:
        raise ValuesError(f"values file {str(path)!r}: not valid YAML ({_first_line(e)})") from e
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValuesError(f"values file {str(path)!r}: expected a mapping of keys at the top, got {_kind_of(loaded)}")
    return loaded


def _merge(into: dict[str, Any], layer: Mapping[Any, Any]) -> None:
    """Helm's merge of user values: maps merge key by key, anything else (lists too) replaces."""
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _keys(tree: Tree, prefix: str = "") -> Iterator[str]:
    for key, node in tree.items():
        yield prefix + key
        if not isinstance(node, Leaf):
            yield from _keys(node, prefix + key + ".")


def _resolve(tree: Tree, given: Mapping[Any, Any], *, prefix: str, all_keys: list[str]) -> dict[str, Any]:
    for key in given:
        if key not in tree:
            raise _unknown(prefix + str(key), all_keys)
    resolved: dict[str, Any] = {}
    for key, node in tree.items():
        dotted = prefix + key
        if isinstance(node, Leaf):
            resolved[key] = _leaf(dotted, node, given[key]) if key in given else copy.deepcopy(node.default)
            continue
        section = given.get(key)
        if section is not None and not isinstance(section, dict):
            raise _wrong_type(dotted, "object", section)
        # A null section (`image: null`) keeps its defaults rather than breaking every template.
        resolved[key] = _resolve(node, section or {}, prefix=dotted + ".", all_keys=all_keys)
    return resolved


def _unknown(key: str, all_keys: list[str]) -> ValuesError:
    # An ancestor ("app" for "app.zzz") is where the key is, not what was meant.
    candidates = [k for k in all_keys if not key.startswith(k + ".")]
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.75)
    if not close:
        parent = key.rpartition(".")[0]
        close = [k for k in all_keys if k.rpartition(".")[0] == parent]
        hint = f"; keys at this level: {', '.join(close)}" if close else ""
    else:
        hint = f"; did you mean {' or '.join(close)}?"
    return ValuesError(f"unknown value key {key!r}{hint}", key=key)


def _leaf(key: str, leaf: Leaf, value: Any) -> Any:
    if value is None:
        if leaf.nullable or leaf.kind in _FREE_FORM:
            return None
        raise _wrong_type(key, leaf.kind.value, None)
    converted = _convert(key, leaf, value)
    if leaf.check is not None and converted is not None:
        problem = leaf.check(converted)
        if problem:
            raise ValuesError(f"value {key}: {problem}, got {converted!r}", key=key)
    return converted


def _convert(key: str, leaf: Leaf, value: Any) -> Any:
    kind = leaf.kind
    if kind is Kind.STRING:
        return _as_string(key, value)
    if kind is Kind.INTEGER:
        return _as_integer(key, value)
    if kind is Kind.BOOLEAN:
        return _as_boolean(key, value)
    if kind is Kind.BOOLEAN_OR_STRING:
        if isinstance(value, _sets.Raw):
            return value.text == "true" if value.text in ("true", "false") else value.text
        if isinstance(value, bool | str):
            return value
        raise _wrong_type(key, kind.value, value)
    if kind in (Kind.ARRAY, Kind.STRING_ARRAY):
        if not isinstance(value, list):
            raise _wrong_type(key, kind.value, value)
        if kind is Kind.STRING_ARRAY:
            return [_as_string(f"{key}[{i}]", item) for i, item in enumerate(value)]
        return [_free(item) for item in value]
    if kind in (Kind.OBJECT, Kind.STRING_MAP):
        if not isinstance(value, dict):
            raise _wrong_type(key, kind.value, value)
        if kind is Kind.STRING_MAP:
            return _coalesce(copy.deepcopy(leaf.default), value, convert=lambda k, v: _as_string(f"{key}.{k}", v))
        return _coalesce(copy.deepcopy(leaf.default), value, convert=lambda _k, v: _free(v))
    return _free(value)


def _as_string(key: str, value: Any) -> str:
    if isinstance(value, _sets.Raw):
        return value.text
    if isinstance(value, str):
        return value
    raise _wrong_type(key, "string", value)


def _as_integer(key: str, value: Any) -> int:
    if isinstance(value, _sets.Raw):
        try:
            return int(value.text, 10)
        except ValueError:
            raise _wrong_type(key, "integer", value.text) from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong_type(key, "integer", value)


def _as_boolean(key: str, value: Any) -> bool:
    if isinstance(value, _sets.Raw) and value.text in ("true", "false"):
        return value.text == "true"
    if isinstance(value, bool):
        return value
    raise _wrong_type(key, "boolean", value.text if isinstance(value, _sets.Raw) else value)


def _free(value: Any) -> Any:
    """A free-form value, with `--set` scalars typed the way Helm types them."""
    if isinstance(value, _sets.Raw):
        text = value.text
        if text in ("true", "false"):
            return text == "true"
        try:
            return int(text, 10)
        except ValueError:
            return text
    if isinstance(value, dict):
        return {k: _free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_free(v) for v in value]
    return value


def _coalesce(
    default: dict[str, Any], given: Mapping[Any, Any], *, convert: Callable[[str, Any], Any]
) -> dict[str, Any]:
    """Helm's coalescing of a map with its default: keys merge, null deletes a default key."""
    for key, value in given.items():
        name = str(key)
        if value is None:
            default.pop(name, None)
        elif isinstance(value, dict) and isinstance(default.get(name), dict):
            default[name] = _coalesce(default[name], value, convert=convert)
        else:
            default[name] = convert(name, value)
    return default


def _wrong_type(key: str, expected: str, got: Any) -> ValuesError:
    return ValuesError(f"value {key}: expected {expected}, got {_kind_of(got)}", key=key)


def _kind_of(value: Any) -> str:
    if isinstance(value, _sets.Raw):
        value = value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _first_line(error: yaml.YAMLError) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
