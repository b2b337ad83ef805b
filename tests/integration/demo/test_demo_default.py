"""`certcsi sandbox demo`: files in two pods, a live renewal, an mTLS exchange, everything cleaned up."""

from __future__ import annotations

import re

from demo_support import assert_clean_exit, assert_openssl_verified, run_demo


def test_the_default_demo_renews_live_and_talks_mtls() -> None:
    run = run_demo(timeout=40)

    assert_clean_exit(run)
    renewed = re.search(r"renewed: serial ([0-9a-f]+) → ([0-9a-f]+)", run.stdout)
    assert renewed is not None, run.stdout
    assert renewed.group(1) != renewed.group(2)
    assert_openssl_verified(run, count=2)
    assert run.has_line("server verified client certificate CN=my-csi-app-short-lived"), run.stdout
    assert run.has_line(
        "client verified server name my-csi-app.sandbox.svc.cluster.local and read: 'hello from the server pod'"
    )
    assert run.has_line("my-csi-app: mount gone") and run.has_line("my-csi-app-short-lived: mount gone")
    assert run.has_line("CertificateRequests left in sandbox: 0")
