"""`certcsi sandbox demo --spiffe`: two SVIDs, mTLS checking SPIFFE IDs both ways, the same over the Workload
API with a rotation pushed on an open stream, a forgery denied."""

from __future__ import annotations

from demo_support import assert_clean_exit, assert_openssl_verified, run_demo

APP_1 = "spiffe://example.org/ns/sandbox/sa/example-app-1"
APP_2 = "spiffe://example.org/ns/sandbox/sa/example-app-2"


def test_the_spiffe_demo_shows_identities_mtls_and_a_denied_forgery() -> None:
    run = run_demo("--spiffe", timeout=90)

    assert_clean_exit(run)
    # Each pod's SVID names its own service account, requested with that account's token.
    for app, identity in (("example-app-1", APP_1), ("example-app-2", APP_2)):
        assert run.has_line(f"SPIFFE ID: {identity}"), run.stdout
        assert run.has_line(f"requested as system:serviceaccount:sandbox:{app} with the pod's own token")
    assert_openssl_verified(run, count=2)
    # mTLS: each side checked the other's URI SAN; a client expecting someone else refuses.
    assert run.has_line(f"server example-app-1 verified the client's chain and its SPIFFE ID: {APP_2}"), run.stdout
    assert run.has_line(f"client example-app-2 verified the server's chain and its SPIFFE ID: {APP_1}")
    assert run.has_line("client read: 'hello from the server pod'")
    assert "hangs up: peer SPIFFE ID " + APP_1 + " is not spiffe://example.org/ns/sandbox/sa/someone-else" in run.stdout
    # The Workload API: both pods fetch their SVIDs over their volume's socket and talk mTLS with them; the
    # renewal of app-1's 30-second SVID arrives on its open stream, within a second of the files being written.
    for app, identity in (("example-app-1", APP_1), ("example-app-2", APP_2)):
        assert any(line.startswith(f"{app} fetched over the Workload API: {identity} (serial ") for line in run.lines())
    assert run.has_line(f"mTLS with those SVIDs: server example-app-1 verified the client's SPIFFE ID: {APP_2}")
    assert run.has_line(f"mTLS with those SVIDs: client example-app-2 verified the server's SPIFFE ID: {APP_1}")
    [rotation] = [line for line in run.lines() if line.startswith("renewed SVID arrived on the same stream ")]
    delay_ms = int(rotation.removeprefix("renewed SVID arrived on the same stream ").split(" ms ", 1)[0])
    assert 0 <= delay_ms < 1000, rotation
    old, new = rotation.rsplit("serial ", 1)[1].split(" -> ")
    assert old != new
    assert run.has_line(f"mTLS with the rotated SVID: client example-app-2 verified the server's SPIFFE ID: {APP_1}")
    # The forgery: app-2's token, app-1's identity → denied by the approver's spiffe-id rule, nothing signed.
    assert run.has_line(
        "Denied (reason spiffe.csi.cert-manager.io): Denied request: spiffe-id: unexpected SPIFFE ID requested, "
        f"exp='{APP_2}' got='{APP_1}'"
    ), run.stdout
    assert run.has_line("Ready=False (Denied): nothing was signed")
    assert run.has_line('{decision="denied",rule="spiffe-id"} 1.0')
    assert run.has_line("example-app-1: mount gone") and run.has_line("example-app-2: mount gone")
