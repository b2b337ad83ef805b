"""Kubernetes RBAC over the sandbox's stored Roles and bindings: may this user make this request?

No HTTP here. The server builds RequestAttributes from the URL (a list or watch with the field
selector `metadata.name=X` carries name X, as kube-apiserver does, so resourceNames can allow it),
calls Authorizer.authorize, and on a denial answers 403 with forbidden_message(user, attrs,
reason=decision.reason).

Semantics follow kube-apiserver's RBAC authorizer: ClusterRoleBindings grant everywhere,
RoleBindings in the request's namespace grant there only, a binding whose role is missing grants
nothing (its lookup error becomes the denial reason), and system:masters may do anything.

Decisions are kept per (user, groups, verb, resource, namespace) while no Role, ClusterRole or
binding changes (when the reader can tell, see `CountsChanges`), and per object name as well
only when a rule with `resourceNames` took part in the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certcsi.sandbox.apiserver.identity import CountsChanges, ObjectReader, UserInfo

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES = f"{RBAC_GROUP}/roles"
ROLE_BINDINGS = f"{RBAC_GROUP}/rolebindings"
CLUSTER_ROLES = f"{RBAC_GROUP}/clusterroles"
CLUSTER_ROLE_BINDINGS = f"{RBAC_GROUP}/clusterrolebindings"
SYSTEM_MASTERS = "system:masters"
RBAC_RESOURCES = (ROLES, ROLE_BINDINGS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS)
_ALL = "*"
_CACHE_LIMIT = 4096  # decisions kept; all are dropped together past it (a cache, not a record)


@dataclass(frozen=True)
class RequestAttributes:
    """What a resource request asks to do, as kube-apiserver's authorizer.Attributes.

    `namespace` is empty for cluster-scoped kinds and for lists across all namespaces; `name` is
    empty for create and for collection requests without a metadata.name field selector.
    """

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    # Set for a non-resource request (`/version`, `/openapi/v3`): then only verb and path count.
    path: str = ""

    @property
    def resource_request(self) -> bool:
        return not self.path

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Decision:
    """The verdict; `reason` says which binding allowed, or which role lookups failed."""

    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class _Grant:
    """The rules one binding gives the user, or the error that kept it from giving any."""

    source: str
    rules: Sequence[Mapping[str, Any]] = ()
    error: str = ""


# Told of every decision, allowed or not: an audit log of who was let do what (off unless set).
AuditHook = Callable[[UserInfo, RequestAttributes, Decision], None]


class Authorizer:
    """Decides requests from the ClusterRoles, Roles and bindings the reader holds right now.

    `audit`, when set (at construction or later, on a running server), is called with every
    decision; tests use it to see exactly which permissions a component used or was refused.
    """

    def __init__(self, reader: ObjectReader, *, audit: AuditHook | None = None) -> None:
        self._reader = reader
        self.audit = audit
        self._counter = reader if isinstance(reader, CountsChanges) else None
        self._seen_changes = -1
        # Decisions that hold for any object name, and those that depend on it (resourceNames).
        self._any_name: dict[tuple[Any, ...], Decision] = {}
        self._by_name: dict[tuple[Any, ...], Decision] = {}

    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> Decision:
        decision = self._cached_decision(user, attrs)
        if self.audit is not None:
            self.audit(user, attrs, decision)
        return decision

    def _cached_decision(self, user: UserInfo, attrs: RequestAttributes) -> Decision:
        if self._counter is None:
            return self._decide(user, attrs)[0]
        changes = self._counter.changes(*RBAC_RESOURCES)
        if changes != self._seen_changes or len(self._any_name) + len(self._by_name) > _CACHE_LIMIT:
            self._any_name.clear()
            self._by_name.clear()
            self._seen_changes = changes
        # `extra` never counts in RBAC: pods of one ServiceAccount share their decisions.
        key: tuple[Any, ...] = (user.username, user.groups, attrs.verb, attrs.api_group, attrs.resource)
        key += (attrs.subresource, attrs.namespace, attrs.path)
        decision = self._any_name.get(key) or self._by_name.get((*key, attrs.name))
        if decision is None:
            decision, by_name = self._decide(user, attrs)
            if by_name:
                self._by_name[(*key, attrs.name)] = decision
            else:
                self._any_name[key] = decision
        return decision

    def _decide(self, user: UserInfo, attrs: RequestAttributes) -> tuple[Decision, bool]:
        """The decision, and whether a rule naming resources (so the object's name) took part in it."""
        if SYSTEM_MASTERS in user.groups:
            return Decision(True, f"allowed by group {_go_quote(SYSTEM_MASTERS)}"), False
        errors: list[str] = []
        by_name = False
        for grant in _Resolver(self._reader).grants(user, attrs.namespace):
            if grant.error:
                errors.append(grant.error)
                continue
            for rule in grant.rules:
                by_name = by_name or bool(rule.get("resourceNames"))
                if rule_allows(rule, attrs):
                    return Decision(True, f"RBAC: allowed by {grant.source}"), by_name
        return Decision(False, f"RBAC: {_aggregate(errors)}" if errors else ""), by_name


def rules_for(reader: ObjectReader, user: UserInfo, namespace: str) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Every rule the user's bindings grant in `namespace` (and cluster-wide), and the lookup errors."""
    rules: list[Mapping[str, Any]] = []
    errors: list[str] = []
    for grant in _Resolver(reader).grants(user, namespace):
        if grant.error:
            errors.append(grant.error)
        else:
            rules.extend(r for r in grant.rules if isinstance(r, Mapping))
    return rules, errors


class _Resolver:
    """Walks the bindings that name a user; lives for one request so each role is read once."""

    def __init__(self, reader: ObjectReader) -> None:
        self._reader = reader
        self._roles: dict[tuple[str, str, str], _Grant] = {}

    def grants(self, user: UserInfo, namespace: str) -> Iterator[_Grant]:
        for binding in self._reader.list(CLUSTER_ROLE_BINDINGS, None):
            subject = _subject_for(user, binding.get("subjects") or (), binding_namespace="")
            if subject is not None:
                yield self._grant(binding, subject, binding_namespace="")
        if not namespace:
            return
        for binding in self._reader.list(ROLE_BINDINGS, namespace):
            subject = _subject_for(user, binding.get("subjects") or (), binding_namespace=namespace)
            if subject is not None:
                yield self._grant(binding, subject, binding_namespace=namespace)

    def _grant(self, binding: Mapping[str, Any], subject: Mapping[str, Any], *, binding_namespace: str) -> _Grant:
        ref = binding.get("roleRef") or {}
        kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        found = self._role(kind, binding_namespace, role_name)
        if found.error:
            return found
        binding_name = str(binding.get("metadata", {}).get("name", ""))
        if binding_namespace:
            label = f"RoleBinding {_go_quote(binding_name + '/' + binding_namespace)}"
        else:
            label = f"ClusterRoleBinding {_go_quote(binding_name)}"
        source = f"{label} of {kind} {_go_quote(role_name)} to {_describe_subject(subject, binding_namespace)}"
        return _Grant(source=source, rules=found.rules)

    def _role(self, kind: str, namespace: str, name: str) -> _Grant:
        # A ClusterRole is the same object whichever binding names it.
        key = (kind, namespace if kind == "Role" else "", name)
        if key not in self._roles:
            self._roles[key] = self._read_role(kind, namespace, name)
        return self._roles[key]

    def _read_role(self, kind: str, namespace: str, name: str) -> _Grant:
        if kind == "ClusterRole":
            role = self._reader.get(CLUSTER_ROLES, None, name)
        elif kind == "Role":
            # A ClusterRoleBinding cannot reach a Role: kube-apiserver looks in namespace "" and fails.
            role = self._reader.get(ROLES, namespace, name) if namespace else None
        else:
            return _Grant(source="", error=f"unsupported role reference kind: {_go_quote(kind)}")
        if role is None:
            return _Grant(source="", error=f"{kind.lower()}.{RBAC_GROUP} {_go_quote(name)} not found")
        return _Grant(source="", rules=tuple(role.get("rules") or ()))


def _subject_for(
    user: UserInfo, subjects: Iterable[Mapping[str, Any]], *, binding_namespace: str
) -> Mapping[str, Any] | None:
    """The first subject naming the user; a RoleBinding's namespace defaults its SA subjects'."""
    for subject in subjects:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User" and name == user.username:
            return subject
        if kind == "Group" and name in user.groups:
            return subject
        if kind == "ServiceAccount":
            sa_namespace = subject.get("namespace") or binding_namespace
            if sa_namespace and user.username == f"system:serviceaccount:{sa_namespace}:{name}":
                return subject
    return None


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = str(subject.get("kind", "")), str(subject.get("name", ""))
    if kind == "ServiceAccount":
        # kube-apiserver prints name/namespace in this order.
        return f"{kind} {_go_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {_go_quote(name)}"


def rule_allows(rule: Mapping[str, Any], attrs: RequestAttributes) -> bool:
    """One PolicyRule against a request, exactly as RBAC's RuleAllows."""
    if not attrs.resource_request:
        return _matches_or_all(rule.get("verbs"), attrs.verb) and _path_matches(rule.get("nonResourceURLs"), attrs.path)
    return (
        _matches_or_all(rule.get("verbs"), attrs.verb)
        and _matches_or_all(rule.get("apiGroups"), attrs.api_group)
        and _resource_matches(rule.get("resources") or (), attrs)
        and _name_matches(rule.get("resourceNames") or (), attrs.name)
    )


def _matches_or_all(values: Iterable[str] | None, wanted: str) -> bool:
    return any(value in (_ALL, wanted) for value in values or ())


def _resource_matches(resources: Iterable[str], attrs: RequestAttributes) -> bool:
    # Only "*", the exact resource[/subresource] and "*/<subresource>" match: kube-apiserver has
    # no "<resource>/*" form, so a rule for "pods" never reaches "pods/status".
    combined = attrs.combined_resource
    for resource in resources:
        if resource in (_ALL, combined):
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def _path_matches(urls: Iterable[str] | None, path: str) -> bool:
    # "*" matches every path; a trailing "*" matches by prefix.
    return any(url in ("*", path) or (url.endswith("*") and path.startswith(url[:-1])) for url in urls or ())


def _name_matches(resource_names: Sequence[str], name: str) -> bool:
    # Create has no name, so a rule with resourceNames can never allow it.
    return not resource_names or name in resource_names


def _aggregate(errors: Sequence[str]) -> str:
    """The text of apimachinery's error aggregate: duplicates dropped, brackets when several."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_quote(text: str) -> str:
    """Go's %q, which kube-apiserver uses for every name in its messages."""
    out = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _no_html(text: str) -> str:
    # kube-apiserver escapes these so that a 403 body never looks like HTML.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_message(user: UserInfo, attrs: RequestAttributes, *, reason: str = "") -> str:
    """The `message` of kube-apiserver's 403 Status for this request (reason: Decision.reason)."""
    if not attrs.resource_request:
        detail = f"User {_go_quote(user.username)} cannot {attrs.verb} path {_go_quote(attrs.path)}"
        return f"forbidden: {_no_html(detail)}" + (f": {reason}" if reason else "")
    scope = f"in the namespace {_go_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    detail = _no_html(
        f"User {_go_quote(user.username)} cannot {attrs.verb} resource {_go_quote(attrs.combined_resource)} "
        f"in API group {_go_quote(attrs.api_group)} {scope}"
    )
    if reason:
        detail = f"{detail}: {reason}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    subject = f"{qualified} {_go_quote(attrs.name)}" if attrs.name else qualified
    return f"{subject} is forbidden: {detail}"
