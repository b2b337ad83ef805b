"""OpenAPI documents (placeholder)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from certcsi.sandbox.apiserver.catalog import Catalog


class OpenApi:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def serve(self, path: str, accept: str | None, query: Mapping[str, str]) -> web.StreamResponse:
        return web.Response(status=404, text="404 page not found\n")
