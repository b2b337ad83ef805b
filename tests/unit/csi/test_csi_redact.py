"""redact_context blanks the token and named keys; SecretScrubber blanks JWTs and private keys in records."""

from __future__ import annotations

import logging
import sys

from certcsi.csi.volume_context import SERVICE_ACCOUNT_TOKENS as TOKENS_KEY
from certcsi.csi.volume_context import redact_context
from certcsi.redact import REDACTED, SecretScrubber, scrub

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"
PEM_KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def test_redact_context_blanks_token_and_given_keys_only() -> None:
    ctx = {TOKENS_KEY: '{"": {"token": "t"}}', "csi.cert-manager.io/pkcs12-password": "pw", "pod": "web-0"}
    assert redact_context(ctx, {"csi.cert-manager.io/pkcs12-password"}) == {
        TOKENS_KEY: REDACTED,
        "csi.cert-manager.io/pkcs12-password": REDACTED,
        "pod": "web-0",
    }
    assert ctx[TOKENS_KEY] == '{"": {"token": "t"}}'  # the input is not modified


def test_scrub_blanks_jwts_inside_text() -> None:
    assert scrub(f'{{"token": "{JWT}"}}') == '{"token": "<redacted>"}'


def test_scrub_blanks_every_private_key_kind_and_keeps_certificates() -> None:
    for kind in ("", "RSA ", "EC ", "ENCRYPTED "):
        block = f"-----BEGIN {kind}PRIVATE KEY-----\nAAAA\n-----END {kind}PRIVATE KEY-----"
        assert scrub(f"{CERT}\n{block}\nafter") == f"{CERT}\n<redacted private key>\nafter"


def test_scrub_blanks_a_truncated_key_to_the_end() -> None:
    assert scrub("key: -----BEGIN PRIVATE KEY-----\\nMIIE") == "key: <redacted private key>"


def test_scrub_leaves_ordinary_text() -> None:
    text = "volume csi-abc published at /var/lib/kubelet/pods/x/mount"
    assert scrub(text) == text


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": msg, "args": args, "levelno": logging.INFO, **extra})


def test_filter_scrubs_formatted_message_and_extras() -> None:
    record = _record("publish with %s", JWT, detail=PEM_KEY)
    assert SecretScrubber().filter(record) is True
    assert record.getMessage() == "publish with <redacted>"
    assert record.__dict__["detail"] == "<redacted private key>"


def test_filter_scrubs_tracebacks_and_drops_the_exception() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    SecretScrubber().filter(record)
    text = logging.Formatter().format(record)
    assert "ValueError: bad token <redacted>" in text
    assert JWT not in text
    assert record.exc_info is None


def test_filter_keeps_clean_tracebacks_intact() -> None:
    try:
        raise ValueError("plain failure")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    SecretScrubber().filter(record)
    assert record.exc_info is not None
    assert "ValueError: plain failure" in logging.Formatter().format(record)
