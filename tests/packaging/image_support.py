"""Podman for the image tests: the machine set up by the project's scripts, the image built, containers run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from packaging_support import REPO, run

SCRIPTS = REPO / "scripts"
# Ceilings only so that a hung download fails CI instead of stalling it. Seen here: base 50-100 s,
# image 30 s cold and 2-7 s warm.
PREPARE_TIMEOUT = 900
BUILD_TIMEOUT = 900


def prepare_podman() -> None:
    """What a fresh machine lacks: podman and its settings, then the Debian base (each a no-op when done)."""
    if os.geteuid() != 0:
        raise AssertionError("the image tests need root: rootful podman builds and runs the image")
    run([str(SCRIPTS / "setup-podman")], cwd=REPO, timeout=PREPARE_TIMEOUT)
    run([str(SCRIPTS / "build-base-image")], cwd=REPO, timeout=PREPARE_TIMEOUT)


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    seconds: float

    def inspect(self) -> dict[str, Any]:
        out = run(["podman", "image", "inspect", self.tag], cwd=REPO, timeout=60).stdout
        found = json.loads(out)
        assert isinstance(found, list) and len(found) == 1, out
        return dict(found[0])


def build_image(tag: str) -> BuiltImage:
    """scripts/build-image, as a user runs it, from this working tree."""
    started = time.monotonic()
    run([str(SCRIPTS / "build-image"), tag], cwd=REPO, timeout=BUILD_TIMEOUT)
    return BuiltImage(tag=tag, seconds=time.monotonic() - started)


def remove_image(tag: str) -> None:
    """Untag the test image; its layers stay as the build cache of the next run."""
    run(["podman", "rmi", tag], cwd=REPO, timeout=120)


def run_in_image(tag: str, script: str) -> str:
    """Run a shell script in a throwaway container of the image, as root; its stdout."""
    command = ["podman", "run", "--rm", "--pull=never", "--network=none", "--user=0", "--entrypoint=sh"]
    return run([*command, tag, "-c", script], cwd=REPO, timeout=120).stdout


async def podman(*args: str, timeout: float = 120, check: bool = True) -> tuple[int, str]:
    """An async `podman` call (the test's event loop keeps serving the sandbox meanwhile): exit code, output."""
    process = await asyncio.create_subprocess_exec(
        "podman", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(timeout):
        out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if check and process.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {process.returncode}:\n{text}")
    return process.returncode or 0, text


@dataclass
class Container:
    name: str

    async def state(self) -> dict[str, Any]:
        _, out = await podman("container", "inspect", "--format", "{{json .State}}", self.name)
        return dict(json.loads(out))

    async def logs(self) -> str:
        _, out = await podman("logs", self.name, check=False)
        return out

    async def stop(self) -> dict[str, Any]:
        """Stop as kubelet does (SIGTERM, SIGKILL after the grace period); the final state."""
        await podman("stop", self.name, timeout=120)
        return await self.state()


@contextlib.asynccontextmanager
async def running_container(run_args: Sequence[str], *, name: str) -> AsyncIterator[Container]:
    """`podman run --detach ...`; on the way out, stopped as kubelet stops it (SIGTERM, then the grace
    period) and removed. A failure inside prints the container's logs."""
    assert list(run_args[:2]) == ["podman", "run"], run_args
    container = Container(name)
    await podman(*run_args[1:])
    try:
        yield container
    except BaseException:
        print(f"--- logs of container {name}\n{await container.logs()}")
        raise
    finally:
        await podman("stop", name, timeout=120, check=False)
        await podman("rm", "--force", name, check=False)
