"""`certcsi inspect` on volumes without a certificate: Pending while the first one is awaited (and which
request), Failing with the last error and count once first issuances failed, then Issued."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from observability_support import Engine, SigningIssuance, build_manager, context, new_engine, settle
from publish_requests import Req

from certcsi.cli import main
from certcsi.errors import IssuanceDenied
from certcsi.volumes.driver import Issued


@dataclass
class HeldIssuance(SigningIssuance):
    """Signs (or denies) only once `release` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, namespace: str, name: str, *, timeout: float | None = None) -> Issued:
        await self.release.wait()
        return await super().wait(namespace, name, timeout=timeout)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    plain = new_engine(tmp_path)
    held = HeldIssuance(plain.clock)
    manager = build_manager(plain.store, plain.mounter, held, plain.clock, plain.observer)
    await manager.start()
    yield Engine(manager, held, plain.observer, plain.store, plain.mounter, plain.clock, plain.root)
    await manager.stop()


def rows(engine: Engine, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["inspect", "--data-root", str(engine.root / "data"), "--json", *args])
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def table(engine: Engine) -> list[list[str]]:
    result = CliRunner().invoke(main, ["inspect", "--data-root", str(engine.root / "data")])
    return [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]


async def test_pending_then_failing_with_the_last_error_then_issued(engine: Engine) -> None:
    issuance = engine.issuance
    assert isinstance(issuance, HeldIssuance)
    first = asyncio.create_task(engine.manager.publish(Req("vol-1", engine.target(), context())))
    await settle()
    (row,) = rows(engine)
    assert (row["state"], row["request"], row["lastError"], row["failures"]) == ("Pending", "req-0", None, 0)
    assert row["issuer"] == {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    header, line = table(engine)
    assert header[:3] == ["POD", "VOLUME", "STATE"] and line[:4] == ["team/app-0", "vol-1", "Pending", "-"]

    issuance.deny = True
    issuance.release.set()
    with pytest.raises(IssuanceDenied):
        await first
    assert rows(engine) == []  # a failed first publish leaves nothing: the volume is back with kubelet's retry

    issuance.release.clear()
    retry = asyncio.create_task(engine.manager.publish(Req("vol-1", engine.target(), context())))
    await settle()
    (row,) = rows(engine)
    assert (row["state"], row["request"], row["failures"]) == ("Failing", "req-1", 1)
    assert row["lastError"] == 'request "req-0" has been denied by the approval plugin: not on my watch'
    assert row["lastErrorTime"] is not None
    details = CliRunner().invoke(main, ["inspect", "--data-root", str(engine.root / "data"), "--pod", "team/app-0"])
    assert "State:         Failing" in details.stdout and "Request:       req-1" in details.stdout
    assert 'Last error:    request "req-0" has been denied' in details.stdout

    issuance.deny = False
    issuance.release.set()
    await retry
    (row,) = rows(engine)
    assert (row["state"], row["request"], row["lastError"], row["failures"]) == ("Issued", "req-1", None, 0)
