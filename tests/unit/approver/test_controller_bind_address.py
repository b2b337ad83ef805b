"""Listen addresses as upstream's --metrics-bind-address / --readiness-probe-bind-address take them."""

from __future__ import annotations

from pathlib import Path

import pytest
from approver_support import POLICY
from controller_support import FakeApprovalApi

from certcsi.approver.controller import Approver
from certcsi.approver.running import default_namespace, endpoints_for
from certcsi.endpoints import BindAddress, parse_bind_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":9402", BindAddress(host=None, port=9402)),
        ("0.0.0.0:6060", BindAddress(host="0.0.0.0", port=6060)),
        ("localhost:8080", BindAddress(host="localhost", port=8080)),
        ("[::1]:9402", BindAddress(host="::1", port=9402)),
        ("127.0.0.1:0", BindAddress(host="127.0.0.1", port=0)),
        ("0", None),
        ("", None),
    ],
)
def test_accepted_forms(text: str, expected: BindAddress | None) -> None:
    assert parse_bind_address(text, flag="--metrics-bind-address") == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9402", "want host:port or :port"),
        (":http", "port must be a number"),
        (":70000", "port must be a number from 0 to 65535"),
        ("::1:9402", "IPv6 host must be written in brackets"),
    ],
)
def test_bad_forms_name_the_flag_and_the_rule(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=r"^--readiness-probe-bind-address: ") as caught:
        parse_bind_address(text, flag="--readiness-probe-bind-address")
    assert words in str(caught.value)


def test_addresses_print_as_they_are_written() -> None:
    assert str(BindAddress(host=None, port=9402)) == ":9402"
    assert str(BindAddress(host="::1", port=9402)) == "[::1]:9402"


def test_the_lease_namespace_is_the_pods_own(tmp_path: Path) -> None:
    account_file = tmp_path / "namespace"
    assert default_namespace({"POD_NAMESPACE": "spiffe"}, account_file) == "spiffe"
    assert default_namespace({}, account_file) == "cert-manager"  # upstream's default
    account_file.write_text("from-token\n")
    assert default_namespace({}, account_file) == "from-token"


def test_one_address_for_both_flags_is_one_server() -> None:
    approver = Approver(api=FakeApprovalApi(), policy=POLICY)
    same = BindAddress(host="127.0.0.1", port=6060)
    (server,) = endpoints_for(approver, readiness=same, metrics=same)
    assert server.address == same
    both = endpoints_for(approver, readiness=same, metrics=BindAddress(host="127.0.0.1", port=9402))
    assert [endpoint.name for endpoint in both] == ["readiness", "metrics"]
