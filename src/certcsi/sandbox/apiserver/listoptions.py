"""List and watch options as kube-apiserver defaults and checks them with the WatchList feature on: a watch
may ask for the current state first (`sendInitialEvents`) and for a bookmark marking its end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from certcsi.sandbox.apiserver.errors import ApiError, bad_request, invalid_kind

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
NOT_OLDER_THAN = "NotOlderThan"
# The annotation of the BOOKMARK that ends a watch's initial events.
INITIAL_EVENTS_END = "k8s.io/initial-events-end"

Cause = tuple[str, str, str]


def parse_optional_bool(query: Mapping[str, str], name: str) -> bool | None:
    """A boolean parameter as Go parses it; None when absent."""
    value = query.get(name)
    if value is None or value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'invalid value for parameter {name}: "{value}" is not a boolean')


@dataclass(frozen=True)
class WatchStart:
    """Where a watch starts: `replay` sends the current state as ADDED first (then `since` is unused);
    otherwise changes after `since` (None: after now)."""

    replay: bool
    since: int | None
    end_bookmark: bool  # a BOOKMARK annotated INITIAL_EVENTS_END after the replay


def _forbidden(field: str, detail: str) -> Cause:
    return ("FieldValueForbidden", field, f"Forbidden: {detail}")


def _not_supported(field: str, value: str, supported: tuple[str, ...]) -> Cause:
    listed = ", ".join(f'"{s}"' for s in supported)
    return ("FieldValueNotSupported", field, f'Unsupported value: "{value}": supported values: {listed}')


def _invalid(causes: list[Cause]) -> ApiError:
    return invalid_kind("meta.k8s.io", "ListOptions", "", causes)


def watch_start(query: Mapping[str, str], *, since: int | None, bookmarks: bool) -> WatchStart:
    """Default (SetListOptionsDefaults) and check (validateWatchOptions) a watch's options; 422 naming the
    field. `since` is the parsed resourceVersion (None for "" and "0")."""
    initial = parse_optional_bool(query, "sendInitialEvents")
    match = query.get("resourceVersionMatch", "")
    if initial is None and not match and since is None:
        # A watch from "" or "0" always replayed the current state; WatchList only names it.
        initial, match = True, NOT_OLDER_THAN
    causes: list[Cause] = []
    if initial is not None and match != NOT_OLDER_THAN:
        causes.append(
            _forbidden(
                "resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            )
        )
    if match:
        if initial is None:
            causes.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                )
            )
        if match != NOT_OLDER_THAN:
            causes.append(_not_supported("resourceVersionMatch", match, (NOT_OLDER_THAN,)))
        if query.get("continue"):
            causes.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
    if causes:
        raise _invalid(causes)
    if initial:
        # NotOlderThan: the state now is at least as new as any version the client names.
        return WatchStart(replay=True, since=None, end_bookmark=bookmarks)
    return WatchStart(replay=False, since=since, end_bookmark=False)


def check_list(query: Mapping[str, str]) -> None:
    """validateListOptions: sendInitialEvents is for watches; resourceVersionMatch needs a resourceVersion."""
    causes: list[Cause] = []
    match = query.get("resourceVersionMatch", "")
    version = query.get("resourceVersion", "")
    if match:
        if not version:
            causes.append(
                _forbidden(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            )
        if query.get("continue"):
            causes.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in ("Exact", NOT_OLDER_THAN):
            causes.append(_not_supported("resourceVersionMatch", match, ("Exact", NOT_OLDER_THAN, "")))
        if match == "Exact" and version == "0":
            causes.append(
                _forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            )
    if parse_optional_bool(query, "sendInitialEvents") is not None:
        causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if causes:
        raise _invalid(causes)
