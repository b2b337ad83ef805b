"""Logging for every certcsi command: upstream's klog text lines by default, Kubernetes' JSON on request.

Text (`--logging-format=text`, the default) is what upstream's Go commands print through klog's
`klogr.New()`: a klog header, the logger's name, then `"msg"` and the record's fields as JSON
values, sorted by key, each once (an exception adds `"error"`, unless a field already has it;
its traceback follows on the next lines):

    I1204 19:11:02.123456   12345 manager.py:123] volumes/manager "msg"="volume published" "volume_id"="v1"

JSON (`--logging-format=json`) is Kubernetes' component-base format (zapr): one object per line,
`ts` (milliseconds since the epoch), `logger`, `caller`, `msg`, then `v` (the verbosity the
record shows from) or, for errors, `err`, then the record's fields, each once:

    {"ts":1733339462123.456,"logger":"volumes/manager","caller":"manager.py:123","msg":"volume published","v":1,...}

Verbosity, as upstream's `--log-level=N` / `-v=N` (klog), and as a count:

    0   warnings and errors only
    1-2 info (what the driver does: volumes published, certificates issued, renewals, failures)
    3-4 debug for certcsi itself; libraries (kubernetes_asyncio, aiohttp, grpc, asyncio) stay at warning
    5+  debug for everything, libraries included

Secrets: every handler on the root logger gets `certcsi.redact.SecretScrubber` (tokens, bearer
credentials, PEM private keys are blanked in the message, the extra fields and the traceback), and
both formatters scrub their finished line once more, which also covers non-string extra values.
The deliberate path stays the first defence: code never logs a volume context unredacted, a PKCS#12
password or a key (tests/integration/observability prove it for a whole publish/renew/unpublish cycle).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from typing import Any, Literal, TextIO

from certcsi.redact import SecretScrubber, scrub

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "configure",
    "level_for",
    "make_handler",
]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LIBRARY_LOGGERS = ("kubernetes_asyncio", "aiohttp", "grpc", "asyncio", "urllib3")
MAX_VERBOSITY = 10
_LIBRARY_DEBUG_FROM = 5
# Marks the handler `configure` installed, so calling it again replaces that one and no other.
_OURS = "_certcsi_handler"

# Attributes every LogRecord has; anything else on a record came through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_JSON_SCALARS = (str, int, float, bool, type(None))
# klog's severity letters; logr has no warnings, klog does.
_SEVERITY = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E", logging.CRITICAL: "F"}


def level_for(verbosity: int) -> int:
    """The level of certcsi's own loggers at `verbosity`."""
    if verbosity <= 0:
        return logging.WARNING
    return logging.INFO if verbosity <= 2 else logging.DEBUG


def shown_from(level: int) -> int:
    """The verbosity a record of `level` is shown from (klog's V level, JSON's `v`)."""
    if level >= logging.WARNING:
        return 0
    return 1 if level >= logging.INFO else 3


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record got through `extra=`, in the order they were given."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS and not key.startswith("_")}


def logger_name(record: logging.LogRecord) -> str:
    """The record's logger as a klogr name: `certcsi.volumes.manager` is `volumes/manager`."""
    return record.name.removeprefix("certcsi.").replace(".", "/")


def _caller(record: logging.LogRecord) -> str:
    return f"{os.path.basename(record.pathname)}:{record.lineno}"


def _json_value(value: object) -> object:
    return value if isinstance(value, _JSON_SCALARS) else str(value)


def _encoded(value: object) -> str:
    # Go's json.Encoder with SetEscapeHTML(false), which klogr uses for keys and values alike.
    # Most keys and values need no escaping: quoting them directly costs a tenth of json.dumps.
    if type(value) is str and '"' not in value and "\\" not in value and value.isprintable():
        return f'"{value}"'
    if type(value) is int:
        return str(value)
    return json.dumps(_json_value(value), ensure_ascii=False)


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return None


class TextFormatter(logging.Formatter):
    """klog's header and klogr's serialized message: `I0102 15:04:05.000000  pid file:line] name "msg"=...`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = extra_fields(record)
        error = _exception_text(record)
        if error is not None and "error" not in fields:
            fields = {"error": error, **fields}
        pairs = [f'"msg"={_encoded(record.getMessage())}']
        if "error" in fields:  # klogr puts an error right after the message
            pairs.append(f'"error"={_encoded(fields.pop("error"))}')
        pairs += [f"{_encoded(key)}={_encoded(fields[key])}" for key in sorted(fields)]
        line = f"{self._header(record)}{logger_name(record)} {' '.join(pairs)}"
        trace = self._trace(record)
        return scrub(f"{line}\n{trace}" if trace else line)

    @staticmethod
    def _header(record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created)  # klog writes local time
        severity = _SEVERITY.get(record.levelno, "I" if record.levelno < logging.WARNING else "E")
        return f"{severity}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} {record.process or 0:7d} {_caller(record)}] "

    def _trace(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text or "", self.formatStack(record.stack_info) if record.stack_info else ""]
        return "\n".join(part for part in parts if part)


class JsonFormatter(TextFormatter):
    """Kubernetes' JSON lines: ts, logger, caller, msg, v or err, the record's fields, each once."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": record.created * 1000.0,
            "logger": logger_name(record),
            "caller": _caller(record),
            "msg": record.getMessage(),
        }
        fields = extra_fields(record)
        if record.levelno >= logging.ERROR:
            doc["err"] = fields.pop("error", None) or _exception_text(record) or ""
        else:
            doc["v"] = shown_from(record.levelno)
        for key, value in fields.items():
            doc[key if key not in doc else f"extra_{key}"] = _json_value(value)
        trace = self._trace(record)
        if trace:
            doc["stacktrace"] = trace
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
