"""The gRPC server on the CSI unix socket, and the one place where errors become status codes.

Every RPC, including calls to methods this plugin does not serve, passes through `_RpcGuard`:
  - a `CertcsiError` becomes its `grpc_code` with its (scrubbed) message, cut to fit the reply;
  - any other exception becomes INTERNAL with a generic message, its traceback logged (scrubbed);
  - one log event per RPC: method, volume id, pod, code, duration. Never volume context values,
    never `secrets`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from certcsi.csi.volume_context import POD_NAME, POD_NAMESPACE
from certcsi.errors import CertcsiError
from certcsi.redact import SecretScrubber, scrub

from ._gen import csi_pb2_grpc
from .limits import MAX_REQUEST_BYTES, bounded_message

ServicerContext = grpc.aio.ServicerContext[Any, Any]
# Handlers take the generated request type and an aio context; the stubs type them loosely.
Behaviour = Callable[[Any, Any], Any]

_log = logging.getLogger(__name__)
_log.addFilter(SecretScrubber())

# Linux sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107
INTERNAL_MESSAGE = "internal error in the CSI driver; see the driver log"
# Logged at DEBUG when they succeed: the read-only RPCs sidecars call every few seconds, and publish
# and unpublish, which the volume manager logs at INFO once per volume (kubelet republishes every
# volume every minute or so with requiresRepublish).
_ROUTINE = frozenset(
    {
        "/csi.v1.Identity/GetPluginInfo",
        "/csi.v1.Identity/GetPluginCapabilities",
        "/csi.v1.Identity/Probe",
        "/csi.v1.Node/NodeGetCapabilities",
        "/csi.v1.Node/NodeGetInfo",
        "/csi.v1.Node/NodePublishVolume",
        "/csi.v1.Node/NodeUnpublishVolume",
    }
)


class Unimplemented(CertcsiError):
    """The RPC exists in CSI but a node-only plugin for ephemeral volumes does not serve it."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


def parse_endpoint(endpoint: str) -> Path:
    """The socket path of a CSI endpoint: `unix:///abs.sock`, `unix://rel/path`, `unix:path` or a path.

    Relative paths are resolved against the current directory, as the kubelet sidecars do.
    """
    if endpoint.startswith("unix://"):
        path = endpoint[len("unix://") :]
    elif endpoint.startswith("unix:"):
        path = endpoint[len("unix:") :]
    elif "://" in endpoint:
        raise ValueError(f"endpoint {endpoint!r}: only unix sockets are supported (unix:///path/csi.sock)")
    else:
        path = endpoint
    if not path:
        raise ValueError(f"endpoint {endpoint!r}: a socket path is required")
    resolved = Path(os.path.abspath(path))
    if len(os.fsencode(resolved)) > _MAX_SOCKET_PATH:
        raise ValueError(f"endpoint {endpoint!r}: socket path longer than {_MAX_SOCKET_PATH} bytes")
    return resolved


def _remove_stale_socket(path: Path) -> None:
    if not path.parent.is_dir():
        raise FileNotFoundError(f"socket directory {path.parent} does not exist")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        # Only a leftover socket is ours to delete; anything else is someone's data or a typo.
        raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    path.unlink()


def _code_name(code: object) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


def _pod_of(request: Any) -> str:
    context = getattr(request, "volume_context", None)
    if not context:
        return ""
    namespace, name = context.get(POD_NAMESPACE, ""), context.get(POD_NAME, "")
    return f"{namespace}/{name}" if namespace or name else ""


class _RpcGuard(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every unary handler (and stands in for unknown methods) with error mapping and logging."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],  # type: ignore[type-arg]
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:  # type: ignore[type-arg]
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None:
            # No deserializer: the request stays raw bytes, which the unknown-method handler ignores.
            return grpc.unary_unary_rpc_method_handler(self._guard(method, _unknown_method(method)))
        if handler.unary_unary is None:  # CSI has no streaming RPCs; leave anything else alone
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._guard(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _guard(self, method: str, behaviour: Behaviour) -> Behaviour:
        async def guarded(request: Any, context: ServicerContext) -> Any:
            started = self._clock()
            code: grpc.StatusCode = grpc.StatusCode.OK
            error = ""
            try:
                result = behaviour(request, context)
                return await result if inspect.isawaitable(result) else result
            except CertcsiError as exc:
                code, error = exc.grpc_code, bounded_message(scrub(str(exc)))
            except grpc.aio.AbortError:
                code = context.code()  # the handler aborted on its own; keep its status
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception:
                code, error = grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE
                _log.exception("unexpected error in an rpc", extra={"event": "rpc.crash", "method": method})
            finally:
                # Logged before the answer leaves, so the log never lags what the caller saw.
                self._record(method, request, code, error, self._clock() - started)
            await context.abort(code, error)

        return guarded

    def _record(self, method: str, request: Any, code: object, error: str, seconds: float) -> None:
        if code == grpc.StatusCode.OK:
            level = logging.DEBUG if method in _ROUTINE else logging.INFO
        elif code == grpc.StatusCode.INTERNAL:
            level = logging.ERROR
        else:
            level = logging.WARNING
        if not _log.isEnabledFor(level):  # a republish at the default verbosity: nothing to build
            return
        fields: dict[str, object] = {
            "event": "rpc",
            "method": method,
            "volume_id": getattr(request, "volume_id", ""),
            "pod": _pod_of(request),
            "code": _code_name(code),
            "duration_ms": round(seconds * 1000, 3),
        }
        if error:
            fields["error"] = error
        # The message names the event alone: every detail is a field, written once.
        _log.log(level, "rpc", extra=fields)


def _unknown_method(method: str) -> Behaviour:
    def answer(request: Any, context: ServicerContext) -> Any:
        raise Unimplemented(f"{method} is not implemented by this node-only CSI plugin")

    return answer


class CsiServer:
    """Serves the Identity and Node services on one unix socket."""

    def __init__(
        self,
        *,
        endpoint: str,
        identity: csi_pb2_grpc.IdentityServicer,
        node: csi_pb2_grpc.NodeServicer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket_path = parse_endpoint(endpoint)
        self._identity = identity
        self._node = node
        self._clock = clock
        self._server: grpc.aio.Server | None = None
        self._socket_id: tuple[int, int, int] | None = None

    async def start(self) -> None:
        """Remove a stale socket, bind, and start serving. Creates nothing but the socket."""
        if self._server is not None:
            raise RuntimeError("CsiServer already started")
        _remove_stale_socket(self.socket_path)
        server = grpc.aio.server(
            interceptors=[_RpcGuard(self._clock)],
            options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
        )
        csi_pb2_grpc.add_IdentityServicer_to_server(self._identity, server)
        csi_pb2_grpc.add_NodeServicer_to_server(self._node, server)
        try:
            server.add_insecure_port(f"unix:{self.socket_path}")
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {self.socket_path}: {exc}") from exc
        await server.start()
        self._socket_id = _identity(self.socket_path.lstat())
        self._server = server
        _log.info("serving CSI", extra={"event": "csi.serving", "socket": str(self.socket_path)})

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving (in-flight RPCs get `grace` seconds) and remove our socket."""
        server, self._server = self._server, None
        if server is None:
            return
        await server.stop(grace)
        self._remove_own_socket()

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    def _remove_own_socket(self) -> None:
        # grpc core already unlinks its socket path on shutdown (1.85); this covers versions that
        # do not, and touches only the socket we bound. Neither can spare a successor's socket at
        # the same path, so the node DaemonSet must not overlap old and new pods (maxSurge 0).
        try:
            st = self.socket_path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISSOCK(st.st_mode) and _identity(st) == self._socket_id:
            self.socket_path.unlink()


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    # ctime as well as the inode: tmpfs hands a freed inode number straight to the next file.
    return (st.st_dev, st.st_ino, st.st_ctime_ns)
