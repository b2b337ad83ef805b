"""No private key, service-account token or PKCS#12 password reaches any log line, at any level.

A whole life cycle of the real engine against the sandbox: a first publish with a PKCS#12 password,
requested with the pod's own token (--use-token-request), a republish with a fresh token, a renewal,
an unpublish. Every record of every logger (the driver's, the libraries' - aiohttp's, asyncio's... -,
the in-process sandbox's) is captured at DEBUG through both of certcsi's formats.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from obs_node_support import observed_node

from certcsi.logs import LIBRARY_LOGGERS, configure, make_handler
from certcsi.volumes.clock import FakeClock

PASSWORD = "pkcs12-Pa55word-never-logged"
TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    text, as_json = io.StringIO(), io.StringIO()
    configure(verbosity=10, log_format="json", stream=as_json)
    root.addHandler(make_handler(log_format="text", stream=text))
    yield text, as_json
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in libraries.items():
        logging.getLogger(name).setLevel(old)


def tokens_attribute(token: str) -> str:
    return json.dumps({"": {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"}})


async def test_publish_renew_unpublish_logs_no_secret(
    tmp_path: Path, captured: tuple[io.StringIO, io.StringIO]
) -> None:
    text, as_json = captured
    clock = FakeClock(datetime.now(UTC))
    secrets: list[str] = [PASSWORD]
    async with observed_node(tmp_path, clock=clock, use_token_request=True) as node:
        pod = node.pod()
        token = node.token_for(pod)
        secrets.append(token)
        request = node.publish(pod, pkcs12_enable="true", pkcs12_password=PASSWORD)
        request = replace(request, volume_context={**request.volume_context, TOKENS: tokens_attribute(token)})
        await node.manager.publish(request)
        fresh = node.token_for(pod)
        secrets.append(fresh)
        await node.manager.publish(
            replace(request, volume_context={**request.volume_context, TOKENS: tokens_attribute(fresh)})
        )
        first = node.store.read_file("csi-vol-1", "tls.crt")
        clock.advance(3600)
        async with asyncio.timeout(10):
            while node.store.read_file("csi-vol-1", "tls.crt") == first:  # noqa: ASYNC110 - renewal runs on its own
                await asyncio.sleep(0.05)
        assert node.store.read_file("csi-vol-1", "keystore.p12")
        assert all(r["spec"]["username"] == "system:serviceaccount:team-a:web" for r in node.requests())
        await node.manager.unpublish(volume_id="csi-vol-1", target_path=request.target_path)
        await node.telemetry.events.flush()
    for out in (text.getvalue(), as_json.getvalue()):
        assert "certificaterequest created" in out  # the capture did see the engine at work
        assert "PRIVATE KEY" not in out
        for secret in secrets:
            assert secret not in out
        for token in secrets[1:]:
            assert token.split(".")[2] not in out  # not even the signature alone
    lines = as_json.getvalue().splitlines()
    assert all(isinstance(json.loads(line)["ts"], float) for line in lines)
    loggers = {json.loads(line)["logger"] for line in lines}
    # The capture saw library records too, not only certcsi's own.
    assert any(name.split("/")[0] in LIBRARY_LOGGERS for name in loggers), loggers
