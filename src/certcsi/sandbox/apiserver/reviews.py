"""Access reviews, the create-only virtual resources behind `kubectl auth can-i [--list]` and
`kubectl auth whoami`: SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectRulesReview (authorization.k8s.io/v1) and SelfSubjectReview (authentication.k8s.io/v1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certcsi.sandbox.apiserver.errors import bad_request, invalid
from certcsi.sandbox.apiserver.identity import ObjectReader, UserInfo
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.rbac import SYSTEM_MASTERS, Authorizer, RequestAttributes, rules_for
from certcsi.sandbox.apiserver.resources import ResourceType

_ONE_OF_ATTRIBUTES = (
    'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'
)
_STRINGS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _attributes(spec: Obj, rt: ResourceType, name: str) -> RequestAttributes:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise invalid(
            rt,
            name,
            [
                (
                    "FieldValueInvalid",
                    "spec.resourceAttributes",
                    _ONE_OF_ATTRIBUTES,
                )
            ],
        )
    if non_resource is not None:
        attrs = _dict(non_resource)
        return RequestAttributes(str(attrs.get("verb", "")), path=str(attrs.get("path", "")) or "/")
    attrs = _dict(resource)
    for key in _STRINGS:
        if not isinstance(attrs.get(key, ""), str):
            raise bad_request(f"spec.resourceAttributes.{key}: must be a string")
    return RequestAttributes(
        str(attrs.get("verb", "")),
        str(attrs.get("group", "")),
        str(attrs.get("resource", "")),
        str(attrs.get("subresource", "")),
        str(attrs.get("namespace", "")),
        str(attrs.get("name", "")),
    )


def _meta(body: Obj) -> Obj:
    # Protobuf bodies carry every string, empty ones too; JSON answers leave those out.
    return {k: v for k, v in _dict(body.get("metadata")).items() if v not in ("", None)}


def _answer(body: Obj, rt: ResourceType, status: Obj) -> Obj:
    meta = _meta(body)
    return {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {**meta, "creationTimestamp": None},
        "spec": body.get("spec") or {},
        "status": status,
    }


def _decide(authorizer: Authorizer, user: UserInfo, attrs: RequestAttributes) -> Obj:
    decision = authorizer.authorize(user, attrs)
    status: Obj = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _subject(spec: Obj, rt: ResourceType, name: str) -> UserInfo:
    username = spec.get("user") or ""
    groups = spec.get("groups") or []
    if not username and not groups:
        raise invalid(
            rt,
            name,
            [("FieldValueInvalid", "spec.user", 'Invalid value: "": at least one of user or group must be specified')],
        )
    extra = {str(k): [str(v) for v in vs] for k, vs in _dict(spec.get("extra")).items() if isinstance(vs, list)}
    return UserInfo(str(username), uid=str(spec.get("uid") or ""), groups=tuple(str(g) for g in groups), extra=extra)


def review(
    rt: ResourceType, body: Obj, *, caller: UserInfo, namespace: str, authorizer: Authorizer, reader: ObjectReader
) -> Obj:
    """The answer to one review `body` of type `rt`, made by `caller`."""
    name = str(_dict(body.get("metadata")).get("name", ""))
    spec = _dict(body.get("spec"))
    if rt.kind == "SelfSubjectReview":
        info: Obj = {"username": caller.username, "groups": list(caller.groups)}
        if caller.uid:
            info["uid"] = caller.uid
        if caller.extra:
            info["extra"] = {k: list(v) for k, v in caller.extra.items()}
        return _self_review(body, rt, info)
    if rt.kind == "SelfSubjectRulesReview":
        return _answer(body, rt, _rules(reader, caller, str(spec.get("namespace", ""))))
    attrs = _attributes(spec, rt, name)
    if rt.kind == "SelfSubjectAccessReview":
        return _answer(body, rt, _decide(authorizer, caller, attrs))
    if rt.kind == "LocalSubjectAccessReview":
        inner = _dict(spec.get("resourceAttributes")).get("namespace", "")
        if spec.get("nonResourceAttributes") is not None or inner != namespace:
            raise invalid(
                rt,
                name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.resourceAttributes.namespace",
                        f'Invalid value: "{inner}": must match metadata.namespace',
                    )
                ],
            )
    return _answer(body, rt, _decide(authorizer, _subject(spec, rt, name), attrs))


def _self_review(body: Obj, rt: ResourceType, info: Obj) -> Obj:
    meta = _meta(body)
    return {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {**meta, "creationTimestamp": None},
        "status": {"userInfo": info},
    }


def _rule_view(rule: Mapping[str, Any]) -> tuple[Obj | None, Obj | None]:
    if rule.get("nonResourceURLs"):
        return None, {"verbs": list(rule.get("verbs") or []), "nonResourceURLs": list(rule["nonResourceURLs"])}
    resource: Obj = {"verbs": list(rule.get("verbs") or [])}
    for key in ("apiGroups", "resources", "resourceNames"):
        if rule.get(key):
            resource[key] = list(rule[key])
    return resource, None


def _rules(reader: ObjectReader, user: UserInfo, namespace: str) -> Obj:
    rules, errors = rules_for(reader, user, namespace)
    if SYSTEM_MASTERS in user.groups:
        rules = [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
            *rules,
        ]
    resource_rules, non_resource_rules = [], []
    for rule in rules:
        resource, non_resource = _rule_view(rule)
        if resource is not None and resource not in resource_rules:
            resource_rules.append(resource)
        if non_resource is not None and non_resource not in non_resource_rules:
            non_resource_rules.append(non_resource)
    status: Obj = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": bool(errors)}
    if errors:
        status["evaluationError"] = ", ".join(dict.fromkeys(errors))
    return status
