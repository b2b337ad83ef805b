"""The pure half of the least-privilege proof: what was rendered, what was asked, what a rule set allows.

    objects = rendered(CONFIGS["csi-driver"])                 # the chart as Helm renders it, as dicts
    line = command_line(container, pod_fields=..., volumes=...)  # the container's argv on this machine
    audit = AuditLog()                                        # sandbox.authorizer.audit = audit
    refused = replay(without_verb(objects, rule), [c for c in audit.checks(accounts) if c.allowed])

`replay` asks the real `Authorizer` again, over the rendered RBAC objects alone (no store, no
server), whether each recorded check would still pass: dropping a verb that no recorded check
needed refuses nothing, which is how an unused (superfluous) rule shows up.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helm_charts import Chart, find, render

from certcsi.sandbox.apiserver.authn import UserInfo, service_account_username
from certcsi.sandbox.apiserver.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    RBAC_GROUP,
    ROLE_BINDINGS,
    ROLES,
    Authorizer,
    Decision,
    RequestAttributes,
)

Obj = dict[str, Any]
ROLE_KINDS = ("ClusterRole", "Role")
_RESOURCE_OF_KIND = {
    "ClusterRole": CLUSTER_ROLES,
    "ClusterRoleBinding": CLUSTER_ROLE_BINDINGS,
    "Role": ROLES,
    "RoleBinding": ROLE_BINDINGS,
}
_ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass(frozen=True)
class Config:
    """One install to prove: a chart and the `--set` values that make it what it is."""

    name: str
    chart: Chart
    sets: tuple[str, ...] = ()
    # A config that only adds values to `base`: its run proves the rules it adds (and that none of
    # its calls is refused); the rules it shares with `base` are proven by the base's run.
    base: str | None = None


SPIFFE_DURATION = "3s"  # --certificate-request-duration of driver and approver: a renewal after 2s
SANDBOX_ISSUER = "sandbox-ca"
RUNTIME_CONFIG_MAP = "spiffe-issuer"
CONFIGS = {
    config.name: config
    for config in (
        Config("csi-driver", "csi-driver"),
        Config("csi-driver-token-request", "csi-driver", ("app.driver.useTokenRequest=true",)),
        Config(
            "csi-driver-pod-ip-gate",
            "csi-driver",
            ("app.driver.podReadinessGates={pod-ip:any}", "app.driver.continueOnNotReady=true"),
            "csi-driver",
        ),
        Config(
            "spiffe-issuer",
            "csi-driver-spiffe",
            (f"app.issuer.name={SANDBOX_ISSUER}", f"app.certificateRequestDuration={SPIFFE_DURATION}"),
        ),
        Config(
            "spiffe-own-service-account",
            "csi-driver-spiffe",
            (
                f"app.issuer.name={SANDBOX_ISSUER}",
                f"app.certificateRequestDuration={SPIFFE_DURATION}",
                "app.driver.useOwnServiceAccount=true",
            ),
            "spiffe-issuer",
        ),
        Config(
            "spiffe-runtime-config-map",
            "csi-driver-spiffe",
            (
                "app.issuer.name=",
                f"app.runtimeIssuanceConfigMap={RUNTIME_CONFIG_MAP}",
                f"app.certificateRequestDuration={SPIFFE_DURATION}",
            ),
        ),
    )
}


def rendered(config: Config, extra_sets: Sequence[str] = ()) -> list[Obj]:
    """What `helm template deploy/charts/<chart> --set ...` prints, as objects."""
    return render(config.chart, sets=[*config.sets, *extra_sets])


def workload_account(objects: Iterable[Obj], kind: str) -> str:
    """The username the (only) `kind` workload runs as: its pod's ServiceAccount."""
    workload = find(objects, kind)
    account = workload["spec"]["template"]["spec"]["serviceAccountName"]
    return service_account_username(workload["metadata"]["namespace"], account)


# -- the container's command line, on this machine --------------------------------------------------


def command_line(
    spec: Obj, *, pod_fields: Mapping[str, str], volumes: Mapping[str, Path]
) -> tuple[list[str], list[str]]:
    """(command, args) of a rendered container as kubelet would start it here.

    `$(VAR)` references are expanded from the container's env (a fieldRef from `pod_fields`, by
    field path), as kubelet expands them; then every path under one of the container's volume
    mounts is moved to that volume's directory in `volumes` (keyed by volume name), as the mount
    would. A relative path (upstream's `--data-root=csi-data-dir`, `unix://plugin/csi.sock`) is
    the container's working directory's, `/`. Nothing else is touched.
    """
    env = {entry["name"]: _env_value(entry, pod_fields) for entry in spec.get("env", [])}
    mounts = sorted(
        (
            (m["mountPath"].rstrip("/"), volumes[m["name"]])
            for m in spec.get("volumeMounts", [])
            if m["name"] in volumes
        ),
        key=lambda pair: -len(pair[0]),
    )

    def place(word: str) -> str:
        word = _ENV_REFERENCE.sub(lambda match: env.get(match[1], match[0]), word)
        flag, equals, value = word.partition("=") if word.startswith("-") else ("", "", word)
        scheme = "unix://" if value.startswith("unix://") else ""
        path = value.removeprefix(scheme)
        relative = not path.startswith("/") and bool(flag or scheme)
        in_container = "/" + path if relative else path
        for mount_path, host in mounts:
            if in_container == mount_path or in_container.startswith(mount_path + "/"):
                value = scheme + str(host) + in_container[len(mount_path) :]
                break
        return f"{flag}{equals}{value}"

    return [place(w) for w in spec.get("command", [])], [place(w) for w in spec.get("args", [])]


def _env_value(entry: Mapping[str, Any], pod_fields: Mapping[str, str]) -> str:
    if "value" in entry:
        return str(entry["value"])
    return pod_fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]


# -- the audit log and its replay --------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """One authorization decision of the sandbox, as its audit hook saw it."""

    user: UserInfo
    attrs: RequestAttributes
    allowed: bool


@dataclass(frozen=True)
class Check:
    """One permission check an account had to pass, passed when any of `asked` is allowed.

    An API request asks one thing. cert-manager's webhook, when an account sets Approved or Denied,
    asks `approve` on each of the issuer's `signers` names in turn (the wildcard first) and stops
    at the first one allowed: a refused wildcard followed by the allowed exact name is one check,
    passed.
    """

    user: UserInfo
    asked: tuple[RequestAttributes, ...]
    allowed: bool

    @property
    def wants(self) -> set[tuple[str, str]]:
        """(verb, resource[/subresource]) of what it asked."""
        return {(a.verb, a.combined_resource) for a in self.asked}

    def __str__(self) -> str:
        def one(a: RequestAttributes) -> str:
            where = f" in {a.namespace}" if a.namespace else ""
            return f"{a.verb} {a.combined_resource}.{a.api_group}{f' {a.name}' if a.name else ''}{where}"

        answer = "allowed" if self.allowed else "REFUSED"
        return f"{self.user.username}: {' or '.join(one(a) for a in self.asked)} -> {answer}"


def _signers_probe(attrs: RequestAttributes) -> bool:
    return (attrs.verb, attrs.api_group, attrs.resource) == ("approve", "cert-manager.io", "signers")


def _continues(check: Check, decided: Decided) -> bool:
    """Whether `decided` is the webhook's next ask of the same check (its first ask is the wildcard)."""
    return (
        not check.allowed
        and check.user == decided.user
        and _signers_probe(check.asked[-1])
        and _signers_probe(decided.attrs)
        and not decided.attrs.name.endswith("/*")
    )


class AuditLog:
    """Every decision the sandbox's Authorizer made while this was its audit hook."""

    def __init__(self) -> None:
        self.decisions: list[Decided] = []

    def __call__(self, user: UserInfo, attrs: RequestAttributes, decision: Decision) -> None:
        self.decisions.append(Decided(user, attrs, decision.allowed))

    def checks(self, usernames: Iterable[str]) -> list[Check]:
        """The checks of these users, in order (the webhook asks synchronously, so its asks are adjacent)."""
        wanted = set(usernames)
        found: list[Check] = []
        for d in (d for d in self.decisions if d.user.username in wanted):
            if found and _continues(found[-1], d):
                found[-1] = Check(d.user, (*found[-1].asked, d.attrs), d.allowed)
            else:
                found.append(Check(d.user, (d.attrs,), d.allowed))
        return found


@dataclass(frozen=True)
class RuleVerb:
    """One verb of one rule of one rendered Role or ClusterRole."""

    kind: str
    name: str
    index: int
    verb: str
    rule: Mapping[str, Any]

    def __str__(self) -> str:
        group = self.rule["apiGroups"][0] or "core"
        names = f" {self.rule['resourceNames']}" if self.rule.get("resourceNames") else ""
        return f"{self.kind} {self.name}: {self.verb} {','.join(self.rule['resources'])}.{group}{names}"


def rule_verbs(objects: Iterable[Obj]) -> list[RuleVerb]:
    return [
        RuleVerb(kind=o["kind"], name=o["metadata"]["name"], index=i, verb=verb, rule=rule)
        for o in objects
        if o["kind"] in ROLE_KINDS
        for i, rule in enumerate(o["rules"])
        for verb in rule["verbs"]
    ]


def without_verb(objects: Iterable[Obj], dropped: RuleVerb) -> list[Obj]:
    """A copy of `objects` with that one verb gone (and its rule, when it was the rule's last verb)."""
    reduced = copy.deepcopy(list(objects))
    role = find(reduced, dropped.kind, dropped.name)
    rule = role["rules"][dropped.index]
    rule["verbs"] = [v for v in rule["verbs"] if v != dropped.verb]
    if not rule["verbs"]:
        del role["rules"][dropped.index]
    return reduced


class RenderedRbac:
    """The Authorizer's ObjectReader over a list of rendered objects: the RBAC they hold, nothing else."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self._objects: dict[str, list[Obj]] = {}
        for obj in objects:
            if obj["apiVersion"].startswith(RBAC_GROUP + "/"):
                self._objects.setdefault(_RESOURCE_OF_KIND[obj["kind"]], []).append(obj)

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return next((o for o in self.list(resource, namespace) if o["metadata"]["name"] == name), None)

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        return [
            o
            for o in self._objects.get(resource, [])
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]


def replay(objects: Iterable[Obj], checks: Iterable[Check]) -> list[Check]:
    """The recorded checks that the RBAC in `objects` alone would answer differently."""
    authorizer = Authorizer(RenderedRbac(objects))
    return [c for c in checks if any(authorizer.authorize(c.user, a).allowed for a in c.asked) != c.allowed]
