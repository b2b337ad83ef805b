"""Text lines as upstream's klogr prints them, JSON as Kubernetes' component-base; each field once; scrubbed."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import datetime

from certcsi.logs import JsonFormatter, TextFormatter, make_handler

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXBhcnQ"
CREATED = 1767225600.25  # 2026-01-01T00:00:00.250Z
# What upstream's driver prints (klog header, then klogr.New()'s serialized message).
KLOG_HEADER = re.compile(r"^(?P<sev>[IWEF])\d{4} \d\d:\d\d:\d\d\.\d{6} +(?P<pid>\d+) (?P<src>\S+)\] ")


def record(
    msg: str, *, level: int = logging.INFO, exc: bool = False, name: str = "certcsi.volumes.manager", **extra: object
) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad {JWT}")
        except ValueError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord(name, level, "/src/certcsi/volumes/manager.py", 123, msg, (), exc_info)
    rec.created = CREATED
    rec.process = 4242
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_text_is_klogs_header_and_klogrs_serialized_message() -> None:
    line = TextFormatter().format(record("volume published", volume_id="v1", pod="team/web 0", attempts=2))
    local = datetime.fromtimestamp(CREATED)
    header = f"I{local:%m%d %H:%M:%S}.250000    4242 manager.py:123] "
    assert line == header + 'volumes/manager "msg"="volume published" "attempts"=2 "pod"="team/web 0" "volume_id"="v1"'


def test_text_severity_letters_and_the_error_after_the_message() -> None:
    warning = TextFormatter().format(record("slow", level=logging.WARNING))
    error = TextFormatter().format(record("publish failed", level=logging.ERROR, error="denied", volume_id="v1"))
    for line, severity in ((warning, "W"), (error, "E")):
        found = KLOG_HEADER.match(line)
        assert found is not None and found["sev"] == severity and found["pid"] == "4242", line
    assert error.endswith('volumes/manager "msg"="publish failed" "error"="denied" "volume_id"="v1"')


def test_an_exception_is_the_error_field_unless_one_is_given_and_its_traceback_follows() -> None:
    first, *trace = TextFormatter().format(record("failed", level=logging.ERROR, exc=True)).splitlines()
    assert first.endswith('"msg"="failed" "error"="ValueError: bad <redacted>"')
    assert trace[0].startswith("Traceback") and "ValueError" in trace[-1]
    given = TextFormatter().format(record("failed", level=logging.ERROR, exc=True, error="the caller's words"))
    assert given.splitlines()[0].count('"error"=') == 1 and '"error"="the caller\'s words"' in given


def test_text_values_are_json_encoded_like_go() -> None:
    line = TextFormatter().format(record('say "hi"', note="line1\nline2", ok=True, missing=None, ratio=0.5))
    assert '"msg"="say \\"hi\\""' in line
    assert '"missing"=null "note"="line1\\nline2" "ok"=true "ratio"=0.5' in line


def test_json_is_kubernetes_component_base_format() -> None:
    doc = json.loads(JsonFormatter().format(record("volume published", volume_id="v1", retry_in_s=1.5)))
    assert doc == {
        "ts": CREATED * 1000,
        "logger": "volumes/manager",
        "caller": "manager.py:123",
        "msg": "volume published",
        "v": 1,
        "volume_id": "v1",
        "retry_in_s": 1.5,
    }
    assert list(doc)[:5] == ["ts", "logger", "caller", "msg", "v"]


def test_json_errors_carry_err_not_v_and_each_field_once() -> None:
    doc = json.loads(JsonFormatter().format(record("failed", level=logging.ERROR, error="denied", volume_id="v1")))
    assert doc["err"] == "denied" and "v" not in doc and "error" not in doc
    from_exception = json.loads(JsonFormatter().format(record("failed", level=logging.ERROR, exc=True)))
    assert from_exception["err"] == "ValueError: bad <redacted>"
    assert "Traceback" in from_exception["stacktrace"]
    debug = json.loads(JsonFormatter().format(record("detail", level=logging.DEBUG)))
    warning = json.loads(JsonFormatter().format(record("careful", level=logging.WARNING)))
    assert (debug["v"], warning["v"]) == (3, 0)


def test_json_keeps_a_colliding_field_under_another_key() -> None:
    doc = json.loads(JsonFormatter().format(record("m", msg_extra="x", logger="shadow")))
    assert doc["logger"] == "volumes/manager" and doc["extra_logger"] == "shadow"


def test_library_loggers_keep_their_name() -> None:
    line = TextFormatter().format(record("retrying", name="aiohttp.client"))
    assert '] aiohttp/client "msg"="retrying"' in line


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
