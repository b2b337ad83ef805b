"""RuntimeIssuer: the ConfigMap's issuer when valid, the flags' otherwise, a clear error with neither."""

from __future__ import annotations

import pytest
from spiffe_support import FLAG_ISSUER

from certcsi.drivers.spiffe import RuntimeIssuer
from certcsi.errors import IssuerUnavailable
from certcsi.volumes.driver import IssuerRef

RUNTIME = {"issuer-name": "runtime-ca", "issuer-kind": "Issuer", "issuer-group": "example.io"}
RUNTIME_REF = IssuerRef(name="runtime-ca", kind="Issuer", group="example.io")


def test_the_flags_issuer_is_used_until_a_configmap_arrives() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    assert (holder.current(), holder.source) == (FLAG_ISSUER, "flags")


def test_a_valid_configmap_overrides_the_flags() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    assert holder.set_from_configmap(RUNTIME) is None
    assert (holder.current(), holder.source) == (RUNTIME_REF, "runtime")


def test_an_invalid_configmap_keeps_the_previous_issuer() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    holder.set_from_configmap(RUNTIME)
    error = holder.set_from_configmap({"issuer-name": "x"})
    assert error is not None and "issuer-kind, issuer-group" in error
    assert holder.current() == RUNTIME_REF


def test_an_invalid_first_configmap_keeps_the_flags() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    assert holder.set_from_configmap({}) is not None
    assert holder.current() == FLAG_ISSUER


def test_deleting_the_configmap_falls_back_to_the_flags() -> None:
    holder = RuntimeIssuer(FLAG_ISSUER)
    holder.set_from_configmap(RUNTIME)
    holder.clear()
    assert (holder.current(), holder.source) == (FLAG_ISSUER, "flags")


def test_with_neither_there_is_no_issuer_and_a_clear_error() -> None:
    holder = RuntimeIssuer(None, configmap=("cert-manager", "spiffe-issuer"))
    assert (holder.current(), holder.source) == (None, None)
    with pytest.raises(IssuerUnavailable) as info:
        holder.require()
    assert str(info.value) == (
        "no issuer is configured: set --issuer-name or create the runtime ConfigMap "
        "cert-manager/spiffe-issuer with issuer-name, issuer-kind, issuer-group"
    )


def test_require_follows_the_configmap() -> None:
    holder = RuntimeIssuer(None)
    holder.set_from_configmap(RUNTIME)
    assert holder.require() == RUNTIME_REF
    holder.clear()
    with pytest.raises(IssuerUnavailable, match=r"set --issuer-name$"):
        holder.require()
