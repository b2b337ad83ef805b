"""The validation rules of the built-in kinds that users meet (kube-apiserver's ValidateX functions):
a pod needs containers with names and images, a DaemonSet's selector must match its template, an
Event's involvedObject.namespace must be its own, a RoleBinding's roleRef never changes, and so on.

Every rule broken is one cause of a single 422 Invalid, with kube-apiserver's field path and text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from certcsi.sandbox.apiserver import names
from certcsi.sandbox.apiserver.objects import Obj

Cause = tuple[str, str, str]  # (reason, field, message), as errors.invalid takes them
Validator = Callable[[Obj, Obj | None], Iterator[Cause]]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_POD_UPDATE_RULE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _go(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[Obj]:
    """The objects of a list (anything else in it, or a non-list, counts as empty objects)."""
    return [item if isinstance(item, dict) else {} for item in _list(value)]


def required(path: str) -> Cause:
    return ("FieldValueRequired", path, "Required value")


def _name(path: str, value: Any, *, label: bool) -> Iterator[Cause]:
    if not value:
        yield required(path)
        return
    check = names.dns1123_label if label else names.dns1123_subdomain
    problems = check(value) if isinstance(value, str) else [names.LABEL_RULE if label else names.SUBDOMAIN_RULE]
    if problems:
        yield ("FieldValueInvalid", path, f"Invalid value: {_go(value)}: {'; '.join(problems)}")


def _unsupported(path: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    return (
        "FieldValueNotSupported",
        path,
        f"Unsupported value: {_go(value)}: supported values: " + ", ".join(_go(a) for a in allowed),
    )


# -- pods ---------------------------------------------------------------------------------------


def pod_spec(spec: Obj, path: str, *, template: bool = False) -> Iterator[Cause]:
    names: set[str] = set()
    for i, volume in enumerate(_dicts(spec.get("volumes"))):
        vpath = f"{path}.volumes[{i}]"
        yield from _name(f"{vpath}.name", volume.get("name"), label=True)
        if volume.get("name") in names:
            yield ("FieldValueDuplicate", f"{vpath}.name", f"Duplicate value: {_go(volume.get('name'))}")
        names.add(str(volume.get("name")))
        csi = volume.get("csi")
        if isinstance(csi, dict) and not csi.get("driver"):
            yield required(f"{vpath}.csi.driver")
    containers = spec.get("containers")
    if not containers:
        yield required(f"{path}.containers")
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, container in enumerate(_list(spec.get(key))):
            yield from _container(_dict(container), f"{path}.{key}[{i}]", seen, names)
    policy = spec.get("restartPolicy")
    if template and policy not in (None, "Always"):
        yield _unsupported(f"{path}.restartPolicy", policy, ("Always",))
    elif policy is not None and policy not in _RESTART_POLICIES:
        yield _unsupported(f"{path}.restartPolicy", policy, _RESTART_POLICIES)
    if spec.get("dnsPolicy") not in (None, *_DNS_POLICIES):
        yield _unsupported(f"{path}.dnsPolicy", spec.get("dnsPolicy"), _DNS_POLICIES)
    account = spec.get("serviceAccountName")
    if account:
        yield from _name(f"{path}.serviceAccountName", account, label=False)


def _container(container: Obj, path: str, seen: set[str], volumes: set[str]) -> Iterator[Cause]:
    name = container.get("name")
    yield from _name(f"{path}.name", name, label=True)
    if isinstance(name, str) and name in seen:
        yield ("FieldValueDuplicate", f"{path}.name", f"Duplicate value: {_go(name)}")
    seen.add(str(name))
    if not container.get("image"):
        yield required(f"{path}.image")
    for j, mount in enumerate(_dicts(container.get("volumeMounts"))):
        if not mount.get("name"):
            yield required(f"{path}.volumeMounts[{j}].name")
        elif mount["name"] not in volumes:
            yield ("FieldValueNotFound", f"{path}.volumeMounts[{j}].name", f"Not found: {_go(mount['name'])}")
        if not mount.get("mountPath"):
            yield required(f"{path}.volumeMounts[{j}].mountPath")


def _without_images(spec: Obj) -> Obj:
    out = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations")}
    for key in ("containers", "initContainers"):
        if isinstance(out.get(key), list):
            out[key] = [{k: v for k, v in _dict(c).items() if k != "image"} for c in out[key]]
    return out


def pod(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    spec = _dict(obj.get("spec"))
    if old is None:
        yield from pod_spec(spec, "spec")
        return
    if _without_images(spec) != _without_images(_dict(old.get("spec"))):
        yield ("FieldValueForbidden", "spec", _POD_UPDATE_RULE)


# -- workloads ----------------------------------------------------------------------------------


def _selector_matches(selector: Obj, labels: Obj) -> bool:
    for key, value in _dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in _dicts(selector.get("matchExpressions")):
        key, op, values = str(expression.get("key")), expression.get("operator"), _list(expression.get("values"))
        present = key in labels
        if (
            (op == "In" and (not present or labels[key] not in values))
            or (op == "NotIn" and present and labels[key] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _go_map(labels: Obj) -> str:
    body = ", ".join(f"{_go(k)}:{_go(v)}" for k, v in sorted(labels.items()))
    return "map[string]string{" + body + "}"


def workload(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    spec = _dict(obj.get("spec"))
    selector = spec.get("selector")
    template = _dict(spec.get("template"))
    labels = _dict(_dict(template.get("metadata")).get("labels"))
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        yield required("spec.selector")
    elif not _selector_matches(selector, labels):
        yield (
            "FieldValueInvalid",
            "spec.template.metadata.labels",
            f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
        )
    yield from pod_spec(_dict(template.get("spec")), "spec.template.spec", template=True)
    if old is not None and _dict(old.get("spec")).get("selector") != selector:
        yield ("FieldValueInvalid", "spec.selector", f"Invalid value: {_go(selector)}: field is immutable")
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        yield ("FieldValueInvalid", "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")


# -- other kinds ---------------------------------------------------------------------------------


def event(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    namespace = _dict(obj.get("metadata")).get("namespace", "")
    involved = _dict(obj.get("involvedObject")).get("namespace", "")
    if obj.get("eventTime"):
        return  # new-style events are checked by their reporting fields, not this rule
    if not involved:
        if namespace not in ("", "default"):
            yield (
                "FieldValueInvalid",
                "involvedObject.namespace",
                f"Invalid value: {_go(involved)}: does not match event.namespace",
            )
    elif involved != namespace:
        yield (
            "FieldValueInvalid",
            "involvedObject.namespace",
            f"Invalid value: {_go(involved)}: does not match event.namespace",
        )


def service(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    spec = _dict(obj.get("spec"))
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        yield _unsupported("spec.type", kind, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"))
    ports = _list(spec.get("ports"))
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        yield required("spec.ports")
    names: set[str] = set()
    for i, port in enumerate(_dicts(ports)):
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            yield (
                "FieldValueInvalid",
                f"spec.ports[{i}].port",
                f"Invalid value: {_go(number)}: must be between 1 and 65535, inclusive",
            )
        if len(ports) > 1 and not port.get("name"):
            yield required(f"spec.ports[{i}].name")
        if port.get("name") in names:
            yield ("FieldValueDuplicate", f"spec.ports[{i}].name", f"Duplicate value: {_go(port.get('name'))}")
        names.add(str(port.get("name")))
    if old is not None:
        before = _dict(old.get("spec")).get("clusterIP")
        if spec.get("clusterIP") not in (None, "", before):
            yield (
                "FieldValueInvalid",
                "spec.clusterIPs[0]",
                f"Invalid value: {_go(spec.get('clusterIP'))}: may not change once set",
            )


def _config_keys(obj: Obj) -> Iterator[Cause]:
    for field in ("data", "binaryData"):
        for key in _dict(obj.get(field)):
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                yield (
                    "FieldValueInvalid",
                    f"{field}[{key}]",
                    f"Invalid value: {_go(key)}: {_CONFIG_KEY_RULE}",
                )


def configmap(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    yield from _config_keys(obj)
    if (
        old is not None
        and old.get("immutable") is True
        and (obj.get("data"), obj.get("binaryData")) != (old.get("data"), old.get("binaryData"))
    ):
        yield ("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set")


def secret(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    yield from _config_keys(obj)
    if old is not None and obj.get("type") != old.get("type"):
        yield ("FieldValueInvalid", "type", f"Invalid value: {_go(obj.get('type'))}: field is immutable")


def _rules(obj: Obj) -> Iterator[Cause]:
    for i, rule in enumerate(_dicts(obj.get("rules"))):
        if not rule.get("verbs"):
            yield required(f"rules[{i}].verbs")
        if rule.get("nonResourceURLs"):
            if rule.get("resources") or rule.get("apiGroups"):
                yield (
                    "FieldValueInvalid",
                    f"rules[{i}].nonResourceURLs",
                    f"Invalid value: {_go(rule['nonResourceURLs'])}: "
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
        elif not rule.get("apiGroups") and "apiGroups" not in rule:
            yield required(f"rules[{i}].apiGroups")
        elif not rule.get("resources"):
            yield required(f"rules[{i}].resources")


def role(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    yield from _rules(obj)


def binding(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    ref = _dict(obj.get("roleRef"))
    if not ref.get("name"):
        yield required("roleRef.name")
    if ref.get("kind") not in ("Role", "ClusterRole"):
        yield _unsupported("roleRef.kind", ref.get("kind"), ("Role", "ClusterRole"))
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        yield _unsupported("roleRef.apiGroup", ref.get("apiGroup"), ("rbac.authorization.k8s.io",))
    for i, subject in enumerate(_dicts(obj.get("subjects"))):
        if not subject.get("name"):
            yield required(f"subjects[{i}].name")
        if subject.get("kind") not in ("ServiceAccount", "User", "Group"):
            yield _unsupported(f"subjects[{i}].kind", subject.get("kind"), ("ServiceAccount", "User", "Group"))
    if old is not None and _dict(old.get("roleRef")) != ref:
        yield ("FieldValueInvalid", "roleRef", f"Invalid value: {_go(ref)}: cannot change roleRef")


def csidriver(obj: Obj, old: Obj | None) -> Iterator[Cause]:
    spec = _dict(obj.get("spec"))
    policy = spec.get("fsGroupPolicy")
    allowed = ("ReadWriteOnceWithFSType", "File", "None")
    if policy is not None and policy not in allowed:
        yield _unsupported("spec.fsGroupPolicy", policy, allowed)
    for i, mode in enumerate(_list(spec.get("volumeLifecycleModes"))):
        if mode not in ("Persistent", "Ephemeral"):
            yield _unsupported(f"spec.volumeLifecycleModes[{i}]", mode, ("Ephemeral", "Persistent"))
    audiences: set[str] = set()
    for i, request in enumerate(_list(spec.get("tokenRequests"))):
        audience = str(_dict(request).get("audience", ""))
        if audience in audiences:
            yield ("FieldValueDuplicate", f"spec.tokenRequests[{i}].audience", f"Duplicate value: {_go(audience)}")
        audiences.add(audience)
    if old is not None and _dict(old.get("spec")).get("attachRequired") != spec.get("attachRequired"):
        yield (
            "FieldValueInvalid",
            "spec.attachRequired",
            f"Invalid value: {_go(spec.get('attachRequired'))}: field is immutable",
        )


# By storage key: the kinds whose rules the sandbox checks.
VALIDATORS: dict[str, Validator] = {
    "/pods": pod,
    "apps/daemonsets": workload,
    "apps/deployments": workload,
    "/events": event,
    "/services": service,
    "/configmaps": configmap,
    "/secrets": secret,
    "rbac.authorization.k8s.io/roles": role,
    "rbac.authorization.k8s.io/clusterroles": role,
    "rbac.authorization.k8s.io/rolebindings": binding,
    "rbac.authorization.k8s.io/clusterrolebindings": binding,
    "storage.k8s.io/csidrivers": csidriver,
}


def validate(key: str, obj: Obj, old: Obj | None) -> list[Cause]:
    validator = VALIDATORS.get(key)
    return list(validator(obj, old)) if validator is not None else []
