"""SpiffeDriver is a Driver: the engine's protocol, its name and its (empty) secret attributes."""

from __future__ import annotations

from spiffe_support import driver

from certcsi.drivers.spiffe import DRIVER_NAME, SpiffeDriver
from certcsi.volumes.driver import Driver


def test_it_satisfies_the_engine_protocol() -> None:
    engine_driver: Driver = driver()
    assert isinstance(engine_driver, SpiffeDriver)


def test_the_name_defaults_to_upstreams_and_follows_the_flag() -> None:
    assert DRIVER_NAME == "spiffe.csi.cert-manager.io"
    assert driver().name == DRIVER_NAME
    assert driver(name="spiffe.example.com").name == "spiffe.example.com"


def test_there_are_no_secret_attributes() -> None:
    # The token is a secret, but the engine always treats serviceAccount.tokens as one.
    assert driver().secret_attributes == frozenset()
