"""Content negotiation of responses, as kube-apiserver reads the Accept header: JSON or YAML, a
`Table` (`as=Table;g=meta.k8s.io;v=v1`), metadata only (`as=PartialObjectMetadata[List]`), and
406 NotAcceptable when nothing listed can be served (protobuf for a custom resource, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from certcsi.sandbox.apiserver.errors import ApiError

JSON: Final = "application/json"
YAML: Final = "application/yaml"
PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
_META_GROUP = "meta.k8s.io"
_META_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class Output:
    """How to answer: `form` is object, table or metadata; `media` json or yaml."""

    form: str = "object"
    media: str = JSON
    version: str = "v1"  # of meta.k8s.io for Table and PartialObjectMetadata


DEFAULT = Output()


def _parse(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        ranges.append((media, params))
    return ranges


def not_acceptable(accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        406, "NotAcceptable", "only the following media types are accepted: " + ", ".join(accepted), details={}
    )


def negotiate(header: str | None, *, collection: bool, custom: bool) -> Output:
    """The answer's form for an Accept header; 406 when the header lists nothing servable."""
    if not header:
        return DEFAULT
    accepted = (JSON, YAML) if custom else (JSON, YAML, PROTOBUF)
    for media, params in _parse(header):
        if media in ("*/*", "application/*"):
            return DEFAULT
        if media not in (JSON, YAML):
            continue  # protobuf and anything else: the sandbox serves JSON and YAML only
        shown = "yaml" if media == YAML else "json"
        wanted = params.get("as")
        if wanted is None:
            return Output("object", media)
        if params.get("g") != _META_GROUP or params.get("v") not in _META_VERSIONS:
            continue
        if wanted == "Table":
            return Output("table", media if shown else JSON, params["v"])
        if wanted == ("PartialObjectMetadataList" if collection else "PartialObjectMetadata"):
            return Output("metadata", media, params["v"])
    raise not_acceptable(accepted)
