"""Text and JSON lines: time, level, logger, message, extra fields, tracebacks; secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging
import sys

from certcsi.logs import JsonFormatter, TextFormatter, make_handler

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXBhcnQ"


def record(msg: str, *, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad {JWT}")
        except ValueError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord("certcsi.volumes.manager", logging.INFO, __file__, 1, msg, (), exc_info)
    rec.created = 1767225600.25  # 2026-01-01T00:00:00.250Z
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_line_has_the_fixed_keys_and_the_extra_fields() -> None:
    doc = json.loads(JsonFormatter().format(record("volume published", volume_id="v1", retry_in_s=1.5, n=2)))
    assert doc == {
        "time": "2026-01-01T00:00:00.250Z",
        "level": "info",
        "logger": "certcsi.volumes.manager",
        "msg": "volume published",
        "volume_id": "v1",
        "retry_in_s": 1.5,
        "n": 2,
    }


def test_json_keeps_a_colliding_extra_under_another_key() -> None:
    doc = json.loads(JsonFormatter().format(record("m", level="shadow")))
    assert doc["level"] == "info" and doc["extra_level"] == "shadow"


def test_text_line_appends_the_extra_fields_logfmt_style() -> None:
    line = TextFormatter().format(record("volume published", volume_id="v1", pod="team/web 0"))
    assert (
        line == '2026-01-01T00:00:00.250Z INFO certcsi.volumes.manager: volume published volume_id=v1 pod="team/web 0"'
    )


def test_tracebacks_are_included_and_scrubbed() -> None:
    for formatter in (TextFormatter(), JsonFormatter()):
        out = formatter.format(record("failed", exc=True))
        assert "ValueError" in out
        assert JWT not in out


def test_non_string_extras_are_scrubbed_too() -> None:
    for formatter in (TextFormatter(), JsonFormatter()):
        out = formatter.format(record("m", headers={"Authorization": f"Bearer {JWT}"}))
        assert JWT not in out


def test_the_handler_scrubs_before_any_formatter() -> None:
    stream = io.StringIO()
    handler = make_handler(log_format="json", stream=stream)
    pem = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"
    handler.handle(record(f"oops {pem}", token=JWT))
    out = stream.getvalue()
    assert "PRIVATE KEY" not in out and JWT not in out
    assert json.loads(out)["msg"].startswith("oops <redacted")
