"""The sandbox API's HTTP layer: one aiohttp handler that authenticates, authorizes and serves the
Kubernetes REST API over the Store, answering every failure with a kube-apiserver `Status`.

Request path: bearer token → UserInfo (401), URL → Target (404), method → verb (405), RBAC (403),
then the operation. Bodies are JSON only and at most 3 MiB (415, 413); anything unexpected is
logged and answered 500 InternalError without detail, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

from aiohttp import web

from certcsi.sandbox.apiserver import patching
from certcsi.sandbox.apiserver.authn import BoundObjectConflict, TokenAuthority, Unauthorized, UserInfo
from certcsi.sandbox.apiserver.discovery import Discovery
from certcsi.sandbox.apiserver.errors import ApiError, bad_request, conflict
from certcsi.sandbox.apiserver.rbac import Authorizer, RequestAttributes, forbidden_message
from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER, ResourceType
from certcsi.sandbox.apiserver.routing import Scope, Target, resolve
from certcsi.sandbox.apiserver.selectors import (
    FieldSelector,
    Requirement,
    field_selector_name,
    parse_field_selector,
    parse_label_selector,
)
from certcsi.sandbox.apiserver.storage import Obj, Store, Watch, WatchEvent
from certcsi.sandbox.apiserver.validation import check_metadata

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 3 * 1024 * 1024  # kube-apiserver's limit on a request body
DEFAULT_BOOKMARK_INTERVAL: Final = 10.0
JSON: Final = "application/json"
PUBLIC_PATHS: Final = frozenset({"/version", "/healthz", "/livez", "/readyz"})
TOKEN_REQUEST_API_VERSION: Final = "authentication.k8s.io/v1"
DEFAULT_TOKEN_SECONDS: Final = 3600

_NAMESPACES = BY_KEY["/namespaces"]
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_HEALTH = frozenset({"/healthz", "/livez", "/readyz"})


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _respond(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=JSON)


def _status_response(error: ApiError) -> web.Response:
    return _respond(error.code, _encode(error.status()))


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", details={})


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", details={}
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_large() -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")


def internal_error() -> ApiError:
    message = "an error on the server prevented the request from succeeding"
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", details={"causes": [{"message": message}]}
    )


def forbidden(user: UserInfo, attrs: RequestAttributes, reason: str) -> ApiError:
    # kube-apiserver's details leave out empty fields.
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.api_group), ("kind", attrs.resource)) if v}
    return ApiError(403, "Forbidden", forbidden_message(user, attrs, reason=reason), details=details)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(raw: bytes) -> Any:
    """A request body as JSON; 400 BadRequest when it is not (NaN and Infinity are not JSON)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise bad_request("the request body is nested too deeply to decode") from None
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


def parse_bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'invalid value for parameter {name}: "{value}" is not a boolean')


def parse_seconds(query: Mapping[str, str], name: str) -> int:
    value = query.get(name)
    if not value:
        return 0
    if not (value.isascii() and value.lstrip("-").isdigit() and len(value) <= 20):
        raise bad_request(f'invalid value for parameter {name}: "{value}" is not an integer')
    return int(value)


def parse_watch_version(value: str | None) -> int | None:
    """None replays the current state first (unset or "0", as the watch cache does); else the version."""
    if value is None or value in ("", "0"):
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise bad_request(f'invalid resource version: "{value}"')
    return int(value)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _verb(method: str, target: Target, watch: bool) -> str:
    """kube-apiserver's authorization verb for a method on a target; 405 where it takes none."""
    if target.scope is Scope.OBJECT:
        if target.subresource == "token":
            verbs = {"POST": "create"}
        elif target.subresource:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch"}
        else:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    elif target.scope is Scope.ALL_NAMESPACES:
        verbs = {"GET": "list"}
    else:
        verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
    verb = verbs.get(method)
    if verb is None:
        raise method_not_allowed()
    return "watch" if verb == "list" and watch else verb


class Cancellable(Protocol):
    def cancel(self) -> None: ...


# Schedules a callback after a delay in seconds: the loop's call_later, or a test's fake.
CallLater = Callable[[float, Callable[[], None]], Cancellable]


def _loop_call_later(delay: float, callback: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, callback)


class _Ticker:
    """Calls `fn` every `interval` seconds until cancelled (one timer at a time, no task)."""

    def __init__(self, call_later: CallLater, interval: float, fn: Callable[[], None]) -> None:
        self._call_later, self._interval, self._fn = call_later, interval, fn
        self._handle = call_later(interval, self._tick)

    def _tick(self) -> None:
        self._fn()
        self._handle = self._call_later(self._interval, self._tick)

    def cancel(self) -> None:
        self._handle.cancel()


class ApiHandler:
    """Serves every request; holds the store, the token authority, the authorizer and open watches."""

    def __init__(
        self,
        *,
        store: Store,
        authority: TokenAuthority,
        authorizer: Authorizer,
        bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
        server_address: str = "",
        call_later: CallLater | None = None,
    ) -> None:
        self.store = store
        self._call_later = call_later or _loop_call_later
        self.authority = authority
        self.authorizer = authorizer
        self.bookmark_interval = bookmark_interval
        self.watches: set[Watch] = set()
        self._documents = Discovery(server_address=server_address).documents()

    def close_watches(self) -> None:
        for w in tuple(self.watches):
            w.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except ApiError as exc:
            return _status_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return _status_response(too_large())
        except RecursionError:
            # Copying, patching or validating a body nested this deep fails before anything is stored.
            return _status_response(bad_request("the object is nested too deeply"))
        except Exception:
            log.exception("unexpected error serving a request", extra={"method": request.method, "path": request.path})
            return _status_response(internal_error())

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")  # clients ask for "/version/" and "/apis/"
        user = self._authenticate(request, path)
        document = self._documents.get(path)
        if document is not None or path in _HEALTH:
            if request.method != "GET":
                raise method_not_allowed()
            if document is None:
                return web.Response(text="ok")
            return _respond(200, document)
        target = resolve(path)
        if user is None or not isinstance(target, Target):
            raise path_not_found()
        query = request.query
        verb = _verb(request.method, target, watch=parse_bool(query, "watch"))
        if verb in ("list", "watch"):
            return await self._collection_read(request, user, target, verb)
        self._authorize(user, target, verb, target.name)
        if verb == "get":
            return _respond(200, _encode(self.store.get(target.rt, target.namespace or None, target.name)))
        if verb == "create":
            if target.subresource == "token":
                return await self._token(request, user, target)
            return await self._create(request, user, target)
        if verb == "update":
            return await self._update(request, user, target)
        if verb == "patch":
            return await self._patch(request, user, target)
        if verb == "delete":
            return await self._delete(request, target)
        return self._delete_collection(request, target)

    # -- authentication and authorization ------------------------------------------------------

    def _authenticate(self, request: web.Request, path: str) -> UserInfo | None:
        """The caller, or None for a tokenless request to a public path; 401 for anything else."""
        header = request.headers.get("Authorization")
        if header is None:
            if path in PUBLIC_PATHS:
                return None
            raise unauthorized()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        try:
            return self.authority.authenticate(token)
        except Unauthorized as exc:
            log.info("authentication failed", extra={"reason": str(exc), "path": path})
            raise unauthorized() from None

    def _authorize(self, user: UserInfo, target: Target, verb: str, name: str) -> None:
        rt = target.rt
        # kube-apiserver files a request on a namespace under that namespace, so Roles can grant it.
        namespace = target.namespace or (target.name if rt is _NAMESPACES else "")
        attrs = RequestAttributes(verb, rt.group, rt.plural, target.subresource, namespace, name)
        decision = self.authorizer.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden(user, attrs, decision.reason)

    # -- reads -------------------------------------------------------------------------------------

    async def _collection_read(
        self, request: web.Request, user: UserInfo, target: Target, verb: str
    ) -> web.StreamResponse:
        query = request.query
        # A bad field selector still authorizes first (without a name), as kube-apiserver does.
        try:
            fields: FieldSelector | ApiError = parse_field_selector(query.get("fieldSelector"), target.rt)
        except ApiError as exc:
            fields = exc
        self._authorize(user, target, verb, "" if isinstance(fields, ApiError) else field_selector_name(fields))
        if isinstance(fields, ApiError):
            raise fields
        labels = parse_label_selector(query.get("labelSelector"))
        if verb == "watch":
            return await self._watch(request, target, labels, fields)
        items, rv = self.store.list(target.rt, target.namespace or None, labels=labels, fields=fields)
        return _respond(200, _encode(self._list_body(target.rt, items, rv)))

    @staticmethod
    def _list_body(rt: ResourceType, items: list[Obj], rv: int) -> Obj:
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    async def _watch(
        self, request: web.Request, target: Target, labels: tuple[Requirement, ...], fields: FieldSelector
    ) -> web.StreamResponse:
        query = request.query
        since = parse_watch_version(query.get("resourceVersion"))
        timeout = parse_seconds(query, "timeoutSeconds")
        bookmarks = parse_bool(query, "allowWatchBookmarks")
        response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        try:
            watch = self.store.watch(target.rt, target.namespace or None, since=since, labels=labels, fields=fields)
        except ApiError as exc:
            if exc.code != 410:
                raise
            # kube-apiserver's watch cache accepts the watch, then sends the 410 as its only event.
            await response.prepare(request)
            await response.write(WatchEvent("ERROR", exc.status()).line())
            await response.write_eof()
            return response
        return await self._stream(request, response, watch, timeout_seconds=timeout, bookmarks=bookmarks)

    async def _stream(
        self, request: web.Request, response: web.StreamResponse, watch: Watch, *, timeout_seconds: int, bookmarks: bool
    ) -> web.StreamResponse:
        self.watches.add(watch)
        timers: list[Cancellable] = []
        if timeout_seconds > 0:
            timers.append(self._call_later(timeout_seconds, watch.close))
        if bookmarks:
            timers.append(_Ticker(self._call_later, self.bookmark_interval, watch.bookmark))
        try:
            await response.prepare(request)
            await _pump(watch, response)
            await response.write_eof()
        except ConnectionError:
            log.debug("watcher went away", extra={"resource": watch.rt.key})
        finally:
            watch.close()
            for timer in timers:
                timer.cancel()
            self.watches.discard(watch)
        return response

    # -- writes ------------------------------------------------------------------------------------

    async def _create(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        body = await _read_object(request, kind=target.rt.kind, api_version=target.rt.api_version)
        check_metadata(target.rt, body)
        created = self.store.create(target.rt, body, namespace=target.namespace or None, user=user)
        return _respond(201, _encode(created))

    async def _update(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        rt = target.rt
        body = await _read_object(request, kind=rt.kind, api_version=rt.api_version)
        check_metadata(rt, body)
        meta = body.get("metadata")
        if rt.namespaced and isinstance(meta, dict) and meta.get("namespace") not in (None, "", target.namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        updated = self.store.update(
            rt, body, namespace=target.namespace or None, name=target.name, subresource=target.subresource, user=user
        )
        return _respond(200, _encode(updated))

    async def _patch(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        rt = target.rt
        kind = patching.patch_kind(request.headers.get("Content-Type"), strategic=rt.group != CERT_MANAGER)
        patch = decode_json(await _read_body(request))

        def change(current: Obj) -> None:
            patched = patching.apply_patch(kind, current, patch)
            check_metadata(rt, patched)
            if patched is not current:
                current.clear()
                current.update(patched)

        updated = self.store.mutate(
            rt, target.namespace or None, target.name, change, subresource=target.subresource, user=user
        )
        return _respond(200, _encode(updated))

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        uid, resource_version = _preconditions(decode_json(raw) if (raw := await _read_body(request)) else None)
        namespace = target.namespace or None
        if resource_version:
            current = self.store.get(target.rt, namespace, target.name)
            if current["metadata"]["resourceVersion"] != resource_version:
                raise conflict(target.rt, target.name)
        deleted = self.store.delete(target.rt, namespace, target.name, precondition_uid=uid or None)
        return _respond(200, _encode(deleted))

    def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        query = request.query
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), target.rt)
        namespace = target.namespace or None
        items, _ = self.store.list(target.rt, namespace, labels=labels, fields=fields)
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            # An earlier deletion may have garbage-collected this one already.
            if self.store.find(target.rt, namespace, meta["name"]) is obj:
                deleted.append(self.store.delete(target.rt, namespace, meta["name"]))
        return _respond(200, _encode(self._list_body(target.rt, deleted, self.store.resource_version)))

    async def _token(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        body = await _read_object(request, kind="TokenRequest", api_version=TOKEN_REQUEST_API_VERSION)
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec: must be an object")
        audiences = _audiences(spec.get("audiences"))
        seconds = spec.get("expirationSeconds", DEFAULT_TOKEN_SECONDS)
        if seconds is None:
            seconds = DEFAULT_TOKEN_SECONDS
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise bad_request("spec.expirationSeconds: must be an integer")
        ref = spec.get("boundObjectRef")
        bound = _bound_pod(ref)
        try:
            token, expires = self.authority.mint(
                namespace=target.namespace,
                service_account=target.name,
                audiences=audiences,
                expiration_seconds=seconds,
                bound_pod=bound,
            )
        except BoundObjectConflict as exc:
            raise ApiError(409, "Conflict", str(exc)) from None
        except LookupError as exc:
            raise ApiError(404, "NotFound", str(exc)) from None
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        log.info(
            "token minted",
            extra={"namespace": target.namespace, "serviceaccount": target.name, "by": user.username},
        )
        answer = {
            "kind": "TokenRequest",
            "apiVersion": TOKEN_REQUEST_API_VERSION,
            "metadata": {"name": target.name, "namespace": target.namespace, "creationTimestamp": None},
            "spec": {
                "audiences": list(audiences or self.authority.api_audiences),
                "expirationSeconds": seconds,
                "boundObjectRef": ref,
            },
            "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
        }
        return _respond(201, _encode(answer))


async def _pump(watch: Watch, response: web.StreamResponse) -> None:
    """Write events as they come; whatever queued up meanwhile goes out in one write."""
    queue = watch.queue
    while True:
        event = await queue.get()
        if event is None:
            return
        if queue.empty():
            await response.write(event.line())
            continue
        lines = [event.line()]
        done = False
        while not queue.empty():
            more = queue.get_nowait()
            if more is None:
                done = True
                break
            lines.append(more.line())
        await response.write(b"".join(lines))
        if done:
            return


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None


async def _read_object(request: web.Request, *, kind: str, api_version: str) -> Obj:
    """The JSON object a POST or PUT carries; an absent Content-Type means JSON, as in kube-apiserver."""
    media_type = patching.media_type(request.headers.get("Content-Type"))
    if media_type not in ("", JSON):
        raise patching.unsupported_media_type((JSON,))
    body = decode_json(await _read_body(request))
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    if body.get("apiVersion") not in (None, "", api_version):
        raise bad_request(
            f"the API version in the data ({body['apiVersion']}) does not match "
            f"the expected API version ({api_version})"
        )
    if body.get("kind") not in (None, "", kind):
        raise bad_request(f'{body["kind"]} in version "{api_version}" cannot be handled as a {kind}')
    return body


def _preconditions(options: Any) -> tuple[str, str]:
    """(uid, resourceVersion) from DeleteOptions.preconditions; empty strings when absent."""
    if options is None:
        return "", ""
    if not isinstance(options, dict):
        raise bad_request("the request body must be a DeleteOptions object")
    pre = options.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise bad_request("preconditions: must be an object")
    uid, rv = pre.get("uid") or "", pre.get("resourceVersion") or ""
    if not isinstance(uid, str) or not isinstance(rv, str):
        raise bad_request("preconditions: uid and resourceVersion must be strings")
    return uid, rv


def _audiences(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise bad_request("spec.audiences: must be a list of strings")
    return value or None


def _bound_pod(ref: Any) -> tuple[str, str] | None:
    """(name, uid) of the pod a TokenRequest binds to; only pods are supported."""
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise bad_request("spec.boundObjectRef: must be an object")
    kind, name, uid = ref.get("kind"), ref.get("name"), ref.get("uid") or ""
    if kind != "Pod":
        raise bad_request(f"spec.boundObjectRef.kind: only a Pod can be bound, not {kind!r}")
    if not isinstance(name, str) or not name or not isinstance(uid, str):
        raise bad_request("spec.boundObjectRef.name: Required value")
    return name, uid


API_HANDLER: Final = web.AppKey("api_handler", ApiHandler)


def create_app(
    *,
    store: Store,
    authority: TokenAuthority,
    authorizer: Authorizer,
    bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
    server_address: str = "",
    call_later: CallLater | None = None,
) -> web.Application:
    """The aiohttp application; every path goes to one handler that routes kube-style."""
    handler = ApiHandler(
        store=store,
        authority=authority,
        authorizer=authorizer,
        bookmark_interval=bookmark_interval,
        server_address=server_address,
        call_later=call_later,
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[API_HANDLER] = handler
    app.router.add_route("*", "/{path:.*}", handler.handle)
    return app
