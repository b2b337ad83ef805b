"""Where the `Authorization` header of the process's own calls comes from.

- `Static`: a kubeconfig `token` (Bearer) or `username` + `password` (Basic), as loaded; or nothing.
- `TokenFile`: the in-cluster service-account token, or a kubeconfig `tokenFile`. kubelet rotates
  the file, so it is reread, at most once a minute and only when a call needs it: an idle process
  reads nothing.
- `ExecPlugin`: a kubeconfig `exec` credential plugin (client.authentication.k8s.io v1 / v1beta1),
  run when the first call needs a token and again once the token's `expirationTimestamp` has
  passed. It is never interactive (stdin is /dev/null). Plugins that answer with a client
  certificate instead of a token are refused: the TLS context is fixed when the client is made.
A call made with a pod's token does not ask these at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from certcsi.errors import KubernetesError
from certcsi.kube import _errors

log = logging.getLogger(__name__)

TOKEN_REREAD_SECONDS = 60.0
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
_MAX_STDERR = 200


class Credentials(Protocol):
    async def header(self) -> str | None:
        """The `Authorization` value for the next call; None to send none."""
        ...


@dataclass(frozen=True)
class Static:
    value: str | None = field(default=None, repr=False)

    async def header(self) -> str | None:
        return self.value


NO_CREDENTIALS = Static()


def read_token(path: Path) -> str:
    """The token in `path`, without surrounding whitespace; ValueError when there is none."""
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


class TokenFile:
    """A bearer token read from a file that its owner replaces from time to time."""

    def __init__(
        self,
        path: Path,
        *,
        reread_seconds: float = TOKEN_REREAD_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._reread = reread_seconds
        self._monotonic = monotonic
        # Read now, so a missing or empty file fails the start-up rather than the first call.
        self._token = read_token(path)
        self._read_at = monotonic()

    def __repr__(self) -> str:
        return f"TokenFile({str(self._path)!r})"

    async def header(self) -> str:
        now = self._monotonic()
        if now - self._read_at >= self._reread:
            self._read_at = now
            try:
                self._token = read_token(self._path)
            except (OSError, ValueError) as err:
                # A token that is still valid for a while beats failing every call.
                log.warning("cannot reread the token file; keeping the last token", extra={"error": str(err)})
        return f"Bearer {self._token}"


@dataclass(frozen=True)
class ExecSpec:
    """A kubeconfig `users[].user.exec` entry; `command` already resolved against the kubeconfig's directory."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    api_version: str = EXEC_API_VERSIONS[0]


class ExecPlugin:
    """Bearer tokens from an exec credential plugin, cached until they expire."""

    def __init__(self, spec: ExecSpec, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._spec = spec
        self._now = now
        self._token: str | None = None
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ExecPlugin({self._spec.command!r})"

    async def header(self) -> str:
        async with self._lock:  # concurrent first calls run the plugin once
            if self._token is None or (self._expires is not None and self._now() >= self._expires):
                self._token, self._expires = await self._run()
        return f"Bearer {self._token}"

    async def _run(self) -> tuple[str, datetime | None]:
        spec = self._spec
        info = {"apiVersion": spec.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        env = {**os.environ, **spec.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            process = await asyncio.create_subprocess_exec(
                spec.command,
                *spec.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await process.communicate()
        except OSError as exc:
            raise self._error(f"cannot run it: {exc}") from None
        if process.returncode != 0:
            detail = err.decode("utf-8", "replace").strip()[:_MAX_STDERR]
            raise self._error(f"it exited with status {process.returncode}: {detail or '(no output)'}")
        return self._parse(out)

    def _parse(self, out: bytes) -> tuple[str, datetime | None]:
        try:
            credential = json.loads(out)
        except ValueError:
            raise self._error("its output is not JSON") from None
        if not isinstance(credential, dict) or credential.get("kind") != "ExecCredential":
            raise self._error("its output is not an ExecCredential")
        if credential.get("apiVersion") != self._spec.api_version:
            raise self._error(f"it answered apiVersion {credential.get('apiVersion')!r}, not {self._spec.api_version}")
        status: Any = credential.get("status")
        token = status.get("token") if isinstance(status, dict) else None
        if not isinstance(token, str) or not token:
            if isinstance(status, dict) and "clientCertificateData" in status:
                raise self._error("it returned a client certificate; only token credentials are supported")
            raise self._error("its ExecCredential has no status.token")
        expiry = status.get("expirationTimestamp")
        if not expiry:
            return token, None
        try:
            expires = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
        except ValueError:
            raise self._error(f"status.expirationTimestamp {expiry!r} is not an RFC 3339 time") from None
        return token, expires if expires.tzinfo is not None else expires.replace(tzinfo=UTC)

    def _error(self, problem: str) -> KubernetesError:
        message = f"exec credential plugin {self._spec.command!r}: {problem}"
        return KubernetesError(_errors.clean_message(message), status=None, reason="ExecCredential")
