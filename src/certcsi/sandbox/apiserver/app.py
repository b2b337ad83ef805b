"""The sandbox API's HTTP layer: one aiohttp handler that authenticates, authorizes and routes each
request the way kube-apiserver's filter chain does, answering every failure with a `Status`.

Request path: bearer token → user (401 for a bad one; none is system:anonymous), Impersonate-*
headers, then non-resource paths (discovery, OpenAPI, health, version) or the resource the URL names
(`404 page not found` when no served type), the verb (405), RBAC (403), and the read or write
(reading.py, writing.py, reviews.py). Anything unexpected is logged and answered 500 InternalError
without detail, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import yaml
from aiohttp import web

from certcsi.sandbox.apiserver import decoding, impersonation, reading, reviews, tokenrequests, writing
from certcsi.sandbox.apiserver.authn import TokenAuthority, Unauthorized
from certcsi.sandbox.apiserver.discovery import AGGREGATED_GROUP, Discovery
from certcsi.sandbox.apiserver.encoding import encode
from certcsi.sandbox.apiserver.errors import ApiError, bad_request
from certcsi.sandbox.apiserver.identity import ANONYMOUS_USER, UserInfo
from certcsi.sandbox.apiserver.listoptions import check_list, parse_optional_bool, watch_start
from certcsi.sandbox.apiserver.negotiation import YAML, Output, negotiate
from certcsi.sandbox.apiserver.openapi import OpenApi
from certcsi.sandbox.apiserver.rbac import Authorizer, RequestAttributes, forbidden_message
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.routing import Scope, Target, request_attributes, resolve
from certcsi.sandbox.apiserver.selectors import (
    FieldSelector,
    Requirement,
    field_selector_name,
    parse_field_selector,
    parse_label_selector,
)
from certcsi.sandbox.apiserver.storage import Store, StoreReader, Watch, WatchEvent

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 3 * 1024 * 1024  # kube-apiserver's limit on a request body
DEFAULT_BOOKMARK_INTERVAL: Final = 10.0
JSON: Final = "application/json"

_NAMESPACES = BY_KEY["/namespaces"]
_HEALTH = frozenset({"/healthz", "/livez", "/readyz"})
_AGGREGATED_MEDIA = f"application/json;g={AGGREGATED_GROUP};v={{version}};as=APIGroupDiscoveryList"


def _respond(status: int, body: bytes, content_type: str = JSON) -> web.Response:
    return web.Response(status=status, body=body, headers={"Content-Type": content_type})


def _status_response(error: ApiError) -> web.Response:
    return _respond(error.code, encode(error.status()))


class PageNotFound(Exception):
    """A path that names nothing the server serves: Go's plain-text `404 page not found`."""


def _page_not_found() -> web.Response:
    return web.Response(
        status=404,
        text="404 page not found\n",
        headers={"X-Content-Type-Options": "nosniff"},
        content_type="text/plain",
    )


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
    if not attrs.resource_request:
        return ApiError(403, "Forbidden", forbidden_message(user, attrs, reason=reason), details={})
    # kube-apiserver's details leave out empty fields.
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.api_group), ("kind", attrs.resource)) if v}
    return ApiError(403, "Forbidden", forbidden_message(user, attrs, reason=reason), details=details)


def parse_bool(query: Mapping[str, str], name: str) -> bool:
    return parse_optional_bool(query, name) is True


def parse_seconds(query: Mapping[str, str], name: str) -> int:
    value = query.get(name)
    if not value:
        return 0
    if not (value.isascii() and value.lstrip("-").isdigit() and len(value) <= 20):
        raise bad_request(f'invalid value for parameter {name}: "{value}" is not an integer')
    return int(value)


def _verb(method: str, target: Target, watch: bool) -> str:
    """kube-apiserver's authorization verb for a method on a target; 405 where it takes none."""
    rt = target.rt
    if target.scope is Scope.OBJECT:
        if target.subresource == "token":
            verbs = {"POST": "create"}
        elif target.subresource == "finalize":
            verbs = {"PUT": "update"}
        elif target.subresource:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch"}
        else:
            verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    elif target.scope is Scope.ALL_NAMESPACES:
        verbs = {"GET": "list"}
    else:
        verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
    verb = verbs.get(method)
    if verb is None or (not target.subresource and verb not in rt.verbs and not (verb == "list" and watch)):
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


def _warning_headers(warnings: list[str]) -> list[tuple[str, str]]:
    return [("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"') for w in warnings]


def _body_response(status: int, obj: Any, output: Output, warnings: list[str] | None = None) -> web.Response:
    if output.media == YAML:
        body = yaml.safe_dump(obj, sort_keys=False).encode()
        response = _respond(status, body, YAML)
    else:
        response = _respond(status, encode(obj))
    for name, value in _warning_headers(warnings or []):
        response.headers.add(name, value)
    return response


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._call_later = call_later or _loop_call_later
        self.authority = authority
        self.authorizer = authorizer
        self.bookmark_interval = bookmark_interval
        self.watches: set[Watch] = set()
        self.discovery = Discovery(store.catalog, server_address=server_address)
        self.openapi = OpenApi(store.catalog)
        self._reader = StoreReader(store)
        self._clock = clock

    def close_watches(self) -> None:
        for w in tuple(self.watches):
            w.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except ApiError as exc:
            return _status_response(exc)
        except PageNotFound:
            return _page_not_found()
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
        if len(path) > 1 and path.endswith("/") and path != "/version/":
            path = path.rstrip("/")  # clients ask for "/apis/" and "/api/v1/"
        user = self._authenticate(request, path)
        user = impersonation.impersonate(user, request.headers, self._check_impersonation)
        target = resolve(path, self.store.catalog.lookup) if path.startswith(("/api/", "/apis/")) else None
        if not isinstance(target, Target):
            return await self._non_resource(request, user, path, target)
        query = request.query
        verb = _verb(request.method, target, watch=parse_bool(query, "watch"))
        if verb in ("list", "watch"):
            return await self._collection_read(request, user, target, verb)
        self._authorize(user, target, verb, target.name)
        if verb == "get":
            obj = self.store.get(target.rt, target.namespace or None, target.name)
            output = negotiate(request.headers.get("Accept"), collection=False, custom=target.rt.crd)
            return _body_response(200, reading.object_body(target.rt, obj, output, query), output)
        if verb == "create" and target.subresource == "token":
            return await self._token(request, user, target)
        if verb == "create" and not target.rt.stored:
            return await self._review(request, user, target)
        return await self._write(request, user, target, verb)

    # -- non-resource paths -----------------------------------------------------------------------

    async def _non_resource(self, request: web.Request, user: UserInfo, path: str, target: Any) -> web.StreamResponse:
        attrs = request_attributes(path, request.method)
        if attrs.resource_request:
            self._check(user, attrs)  # a resource nobody serves: authorized first, then not found
            raise PageNotFound
        self._check(user, attrs)
        if request.method != "GET":
            raise method_not_allowed() if self._known(path) else PageNotFound
        if path in _HEALTH:
            return web.Response(text="ok")
        if path in ("/api", "/apis") and (version := _aggregated_version(request.headers.get("Accept"))):
            body = self.discovery.aggregated(path, version)
            if body is not None:
                return _respond(200, body, _AGGREGATED_MEDIA.format(version=version))
        document = self.discovery.document(path.rstrip("/") if path != "/" else path)
        if document is not None:
            return _respond(200, document)
        if path.startswith("/openapi/"):
            return self.openapi.serve(path, request.headers.get("Accept"), request.query)
        raise PageNotFound

    def _known(self, path: str) -> bool:
        return path in _HEALTH or path.startswith("/openapi/") or self.discovery.document(path) is not None

    # -- authentication and authorization ---------------------------------------------------------

    def _authenticate(self, request: web.Request, path: str) -> UserInfo:
        """The caller: the token's user, system:anonymous without one; 401 for a token that fails."""
        header = request.headers.get("Authorization")
        if header is None:
            return ANONYMOUS_USER
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        try:
            return self.authority.authenticate(token)
        except Unauthorized as exc:
            log.info("authentication failed", extra={"reason": str(exc), "path": path})
            raise unauthorized() from None

    def _check(self, user: UserInfo, attrs: RequestAttributes) -> None:
        decision = self.authorizer.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden(user, attrs, decision.reason)

    def _check_impersonation(self, user: UserInfo, attrs: RequestAttributes) -> None:
        self._check(user, attrs)

    def _authorize(self, user: UserInfo, target: Target, verb: str, name: str) -> None:
        rt = target.rt
        # kube-apiserver files a request on a namespace under that namespace, so Roles can grant it.
        namespace = target.namespace or (target.name if rt is _NAMESPACES else "")
        self._check(user, RequestAttributes(verb, rt.group, rt.plural, target.subresource, namespace, name))

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
        output = negotiate(request.headers.get("Accept"), collection=verb == "list", custom=target.rt.crd)
        if verb == "watch":
            return await self._watch(request, target, labels, fields, output)
        check_list(query)
        namespace = target.namespace or None
        items, meta = reading.list_objects(self.store, target.rt, namespace, query, labels=labels, fields=fields)
        return _body_response(200, reading.list_body(target.rt, items, meta, output, query), output)

    async def _watch(
        self,
        request: web.Request,
        target: Target,
        labels: tuple[Requirement, ...],
        fields: FieldSelector,
        output: Output,
    ) -> web.StreamResponse:
        query = request.query
        since = reading.parse_resource_version(query.get("resourceVersion"))
        timeout = parse_seconds(query, "timeoutSeconds")
        bookmarks = parse_bool(query, "allowWatchBookmarks")
        start = watch_start(query, since=since, bookmarks=bookmarks)
        if not start.replay and start.since is None:
            since = self.store.resource_version  # sendInitialEvents=false from "" or "0": changes from now
        convert = reading.event_converter(target.rt, output, query)
        response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        try:
            watch = self.store.watch(
                target.rt, target.namespace or None, since=None if start.replay else since, labels=labels, fields=fields
            )
        except ApiError as exc:
            if exc.code != 410:
                raise
            # kube-apiserver's watch cache accepts the watch, then sends the 410 as its only event.
            await response.prepare(request)
            await response.write(WatchEvent("ERROR", exc.status()).line())
            await response.write_eof()
            return response
        if start.end_bookmark:
            watch.bookmark(initial_events_end=True)
        return await self._stream(request, response, watch, convert, timeout_seconds=timeout, bookmarks=bookmarks)

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        watch: Watch,
        convert: Callable[[WatchEvent], bytes],
        *,
        timeout_seconds: int,
        bookmarks: bool,
    ) -> web.StreamResponse:
        self.watches.add(watch)
        timers: list[Cancellable] = []
        if timeout_seconds > 0:
            timers.append(self._call_later(timeout_seconds, watch.close))
        if bookmarks:
            timers.append(_Ticker(self._call_later, self.bookmark_interval, watch.bookmark))
        try:
            await response.prepare(request)
            await _pump(watch, response, convert)
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

    async def _write(self, request: web.Request, user: UserInfo, target: Target, verb: str) -> web.Response:
        write = writing.Write(
            store=self.store,
            rt=target.rt,
            namespace=target.namespace,
            name=target.name,
            subresource=target.subresource,
            user=user,
            query=request.query,
            user_agent=request.headers.get("User-Agent"),
            clock=self._clock,
        )
        content_type = request.headers.get("Content-Type")
        output = negotiate(request.headers.get("Accept"), collection=False, custom=target.rt.crd)
        raw = await _read_body(request)
        if verb == "create":
            status, obj = writing.create(write, raw, content_type)
        elif verb == "update" and target.subresource == "finalize":
            status, obj = 200, writing.finalize(write, raw, content_type)
        elif verb == "update":
            status, obj = 200, writing.update(write, raw, content_type)
        elif verb == "patch":
            status, obj = writing.patch(write, raw, content_type)
        elif verb == "delete":
            status, obj = 200, writing.delete(write, raw, content_type)
        else:
            query = request.query
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"), target.rt)
            status, obj = 200, writing.delete_collection(write, raw, content_type, labels=labels, fields=fields)
        return _body_response(status, obj, output, write.warnings)

    async def _review(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        rt = target.rt
        body = decoding.check_kind(
            decoding.decode_body(
                await _read_body(request),
                request.headers.get("Content-Type"),
                accepted=decoding.BUILTIN_BODY_TYPES,
                kind=rt.kind,
            ),
            kind=rt.kind,
            api_version=rt.api_version,
        )
        answer = reviews.review(
            rt, body, caller=user, namespace=target.namespace, authorizer=self.authorizer, reader=self._reader
        )
        return _respond(201, encode(answer))

    async def _token(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        body = decoding.check_kind(
            decoding.decode_body(
                await _read_body(request),
                request.headers.get("Content-Type"),
                accepted=decoding.BUILTIN_BODY_TYPES,
                kind="TokenRequest",
            ),
            kind="TokenRequest",
            api_version=tokenrequests.API_VERSION,
        )
        answer = tokenrequests.answer(self.authority, body, namespace=target.namespace, account=target.name)
        log.info(
            "token minted",
            extra={"namespace": target.namespace, "serviceaccount": target.name, "by": user.username},
        )
        return _respond(201, encode(answer))


def _aggregated_version(accept: str | None) -> str | None:
    """The apidiscovery.k8s.io version an Accept header asks for first, if any."""
    for part in (accept or "").split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("g") == AGGREGATED_GROUP and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
        elif part.strip().split(";")[0] in (JSON, "*/*", "application/*"):
            return None
    return None


async def _pump(watch: Watch, response: web.StreamResponse, convert: Callable[[WatchEvent], bytes]) -> None:
    """Write events as they come; whatever queued up meanwhile goes out in one write."""
    queue = watch.queue
    while True:
        event = await queue.get()
        if event is None:
            return
        if queue.empty():
            await response.write(convert(event))
            continue
        lines = [convert(event)]
        done = False
        while not queue.empty():
            more = queue.get_nowait()
            if more is None:
                done = True
                break
            lines.append(convert(more))
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
