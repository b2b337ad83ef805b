"""next_issuance() at two thirds of the lifetime; fs_group() from the attribute, else the mount group."""

from __future__ import annotations

from datetime import timedelta

from spiffe_support import NOW, driver, issue, volume

from certcsi.drivers.spiffe import FS_GROUP
from certcsi.volumes.driver import Issued


async def test_renewal_is_at_two_thirds_of_the_lifetime() -> None:
    issued = Issued(
        certificate_pem=b"", ca_pem=b"", not_before=NOW, not_after=NOW + timedelta(hours=3), request_name="r"
    )
    assert driver().next_issuance(volume(), issued) == NOW + timedelta(hours=2)


async def test_renewal_of_a_real_one_hour_svid() -> None:
    d, v = driver(), volume()
    issued = issue(d.build_request(v, await d.generate_key(v, None)))
    assert d.next_issuance(v, issued) == issued.not_before + timedelta(minutes=40)


def test_the_attribute_sets_the_group() -> None:
    assert driver().fs_group(volume(attributes={FS_GROUP: "456"}, mount_group=2000)) == 456


def test_without_the_attribute_the_mount_group_is_used() -> None:
    assert driver().fs_group(volume(mount_group=2000)) == 2000
    assert driver().fs_group(volume()) is None
