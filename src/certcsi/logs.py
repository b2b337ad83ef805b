"""Logging for every certcsi command: klog-style verbosity, text or JSON lines, secrets scrubbed.

Verbosity, as upstream's `-v=N` / `--log-level=N` (klog) and as a count:

    -v N, -v=N, -vN, --v=N, --verbosity=N      level N
    -v, -vv, -v -v                             one level per v
    0   warnings and errors only
    1-2 info (what the driver does: volumes published, certificates issued, renewals, failures)
    3-4 debug for certcsi itself; libraries (kubernetes_asyncio, aiohttp, grpc, asyncio) stay at warning
    5+  debug for everything, libraries included

`--log-format text` (default) writes `time LEVEL logger: message key=value ...`; `--log-format json`
writes one object per line: `time` (RFC 3339, UTC, milliseconds), `level`, `logger`, `msg`, every
field passed through `extra=`, and `exc` with the traceback when there is one.

Secrets: every handler on the root logger gets `certcsi.redact.SecretScrubber` (tokens, bearer
credentials, PEM private keys are blanked in the message, the extra fields and the traceback), and
both formatters scrub their finished line once more, which also covers non-string extra values.
The deliberate path stays the first defence: code never logs a volume context unredacted, a PKCS#12
password or a key (tests/integration/observability prove it for a whole publish/renew/unpublish cycle).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TextIO, TypeVar

import click

from certcsi.redact import SecretScrubber, scrub

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "configure",
    "configure_from_cli",
    "level_for",
    "make_handler",
    "parse_verbosity",
    "verbosity_option",
]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LIBRARY_LOGGERS = ("kubernetes_asyncio", "aiohttp", "grpc", "asyncio", "urllib3")
MAX_VERBOSITY = 10
_LIBRARY_DEBUG_FROM = 5
_META_KEY = "certcsi.log_format"
# Marks the handler `configure` installed, so calling it again replaces that one and no other.
_OURS = "_certcsi_handler"

# Attributes every LogRecord has; anything else on a record came through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_JSON_SCALARS = (str, int, float, bool, type(None))


def level_for(verbosity: int) -> int:
    """The level of certcsi's own loggers at `verbosity`."""
    if verbosity <= 0:
        return logging.WARNING
    return logging.INFO if verbosity <= 2 else logging.DEBUG


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record got through `extra=`, in the order they were given."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS and not key.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _logfmt(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n\t') else text


class TextFormatter(logging.Formatter):
    """`2026-01-01T10:00:00.000Z INFO certcsi.volumes.manager: volume published volume_id=v1 pod=web-0`."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = " ".join(f"{key}={_logfmt(value)}" for key, value in extra_fields(record).items())
        if fields:
            line = f"{line} {fields}"
        trace = self._trace(record)
        return scrub(f"{line}\n{trace}" if trace else line)

    def _trace(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text or "", self.formatStack(record.stack_info) if record.stack_info else ""]
        return "\n".join(part for part in parts if part)


class JsonFormatter(TextFormatter):
    """One JSON object per line: time, level, logger, msg, the extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            doc[key if key not in doc else f"extra_{key}"] = value if isinstance(value, _JSON_SCALARS) else str(value)
        trace = self._trace(record)
        if trace:
            doc["exc"] = trace
        return scrub(json.dumps(doc, ensure_ascii=False, default=str))


def make_handler(*, log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the chosen format and the secret scrubber."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(SecretScrubber())
    return handler


def configure(*, verbosity: int, log_format: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Set up the root logger for a command; calling it again replaces what an earlier call set up.

    Handlers installed by others (a test's log capture) are kept, and get the scrubber too.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format: must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    handler = make_handler(log_format=log_format, stream=stream)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    level = level_for(verbosity)
    root.setLevel(logging.DEBUG if verbosity >= _LIBRARY_DEBUG_FROM else level)
    for name in LIBRARY_LOGGERS:
        quiet = verbosity < _LIBRARY_DEBUG_FROM
        logging.getLogger(name).setLevel(max(level, logging.WARNING) if quiet else logging.NOTSET)
    install_scrubber()


def install_scrubber() -> None:
    """Add the secret scrubber to every root handler that lacks one."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretScrubber) for f in handler.filters):
            handler.addFilter(SecretScrubber())


# -- command-line options ----------------------------------------------------------------------------


def parse_verbosity(values: Sequence[str]) -> int:
    """The level from every `-v` given: the highest explicit N, or the number of v's, whichever is more."""
    count, level = 0, 0
    for raw in values:
        text = raw[1:] if raw.startswith("=") else raw
        if not text or set(text) == {"v"}:
            count += 1 + len(text)  # "-vvv" reaches us as "-v" with the value "vv"
        elif text.isascii() and text.isdigit():
            level = max(level, int(text))
        else:
            raise ValueError(f"want -v (repeatable), -v N or -v=N with N a non-negative integer, got {raw!r}")
    return min(max(count, level), MAX_VERBOSITY)


def _verbosity_callback(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> int:
    try:
        return parse_verbosity(values)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


def _format_callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[_META_KEY] = value
    return value


F = TypeVar("F", bound=Callable[..., Any])


def verbosity_option() -> Callable[[F], F]:
    """`-v` (klog-compatible, passed to the command as `verbosity: int`) and `--log-format`.

    `--log-format` is not passed to the command: `configure_from_cli` reads it from the context.
    """

    def decorate(command: F) -> F:
        command = click.option(
            "--log-format",
            type=click.Choice(LOG_FORMATS),
            default="text",
            show_default=True,
            expose_value=False,
            callback=_format_callback,
            help="text: one human-readable line per record; json: one JSON object per line "
            "(time, level, logger, msg and the record's fields).",
        )(command)
        return click.option(
            "-v",
            "--v",
            "--verbosity",
            "verbosity",
            multiple=True,
            is_flag=False,
            flag_value="",
            metavar="N",
            callback=_verbosity_callback,
            help="Log verbosity, klog-style: -v=N, -v N, or repeat -v. 0 warnings, 1-2 info, 3-4 debug, "
            "5+ debug including libraries.",
        )(command)

    return decorate


def configure_from_cli(verbosity: int) -> None:
    """`configure` with the current command's `--log-format` (text when the command has none)."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_META_KEY, "text") if ctx is not None else "text"
    configure(verbosity=verbosity, log_format="json" if chosen == "json" else "text")
