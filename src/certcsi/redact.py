"""Keeping tokens, passwords and private keys out of logs, errors and events.

`certcsi.csi.volume_context.redact_context` is the deliberate path for a volume context.
`redact_secret` is the one way to blank a known secret (a PKCS#12 password, a token) from text
that may quote it, in every escaped form a message can show. `SecretScrubber` is defence in depth:
a logging filter that blanks anything shaped like a JWT or a PEM private key, whichever code path
put it into a record.
"""

from __future__ import annotations

import json
import logging
import re

REDACTED = "<redacted>"

# A JWT (and its bare header) starts with base64url('{"'), i.e. "eyJ".
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}")
# An unterminated block (a truncated dump) is blanked to the end of the text.
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END (?P=kind)PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_PEM_REDACTED = "<redacted private key>"
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+")

# Attributes every LogRecord has; anything else was added through `extra=` and is scrubbed too.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def secret_forms(secret: str) -> frozenset[str]:
    """`secret` as a message could show it: raw, or escaped by repr() (either quote style) or JSON."""
    escaped = repr(secret)[1:-1].replace("\\'", "'")
    return frozenset({secret, escaped, escaped.replace("'", "\\'"), json.dumps(secret, ensure_ascii=False)[1:-1]})


def redact_secret(text: str, secret: str | None) -> str:
    """`text` with every form of `secret` (see `secret_forms`) replaced by REDACTED; as it is without one."""
    if not secret:
        return text
    for form in sorted(secret_forms(secret), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def scrub(text: str, *, secret: str | None = None) -> str:
    """`text` without JWT-looking strings, bearer credentials, PEM private keys, or `secret` in any form."""
    text = redact_secret(text, secret)
    if "eyJ" not in text and "PRIVATE KEY" not in text and "earer" not in text:
        return text
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT.sub(REDACTED, _PEM_PRIVATE_KEY.sub(_PEM_REDACTED, text))


class SecretScrubber(logging.Filter):
    """Rewrites log records in place so no handler ever sees a token or a private key.

    Attach it to handlers (a filter on a logger does not see records from its children) or to the
    logger that emits the records. It never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            # Render the traceback now, while we can still clean it; formatters reuse exc_text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            cleaned = scrub(record.exc_text)
            if cleaned != record.exc_text:
                # The exception object still holds the secret: drop it so no handler re-renders it.
                record.exc_text, record.exc_info = cleaned, None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, scrub(value))
        return True
