"""Whatever subject values parsing accepts, the driver can build a CSR from: bad ones fail up front."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.certmanager.attributes import (
    COMMON_NAME,
    COUNTRIES,
    LITERAL_SUBJECT,
    LOCALITIES,
    ORGANIZATIONAL_UNITS,
    ORGANIZATIONS,
    POSTAL_CODES,
    PROVINCES,
    SERIAL_NUMBER,
    STREET_ADDRESSES,
)
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume

SUBJECT_KEYS = (
    COMMON_NAME, COUNTRIES, LITERAL_SUBJECT, LOCALITIES, ORGANIZATIONAL_UNITS, ORGANIZATIONS, POSTAL_CODES,
    PROVINCES, SERIAL_NUMBER, STREET_ADDRESSES,
)  # fmt: skip
values = st.text(st.characters(codec="utf-8"), max_size=80) | st.sampled_from(
    ["abc_123", "é", "U@", ";", "GB", "CN=x,C=U@", "SERIALNUMBER=a_b", "DC=é", "O=", "CN=" + "c" * 65]
)


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.dictionaries(st.sampled_from(SUBJECT_KEYS), values, min_size=1, max_size=3))
def test_accepted_subjects_always_build_a_csr(
    ec_key: ec.EllipticCurvePrivateKey, volume_for: Callable[..., Volume], entries: dict[str, str]
) -> None:
    driver = CertManagerDriver()
    volume = volume_for(entries)
    try:
        driver.validate(volume)
    except InvalidVolumeAttribute as err:
        assert err.attribute in SUBJECT_KEYS
        return
    assert driver.build_request(volume, ec_key).csr_pem.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
