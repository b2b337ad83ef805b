"""API failures become KubernetesError with the server's own message, clipped and token-free."""

from __future__ import annotations

import json

from certcsi.kube._errors import MAX_MESSAGE, from_connection_error, from_response, from_status_object

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"


def status_body(message: str, *, code: int = 403, reason: str = "Forbidden") -> bytes:
    return json.dumps(
        {"kind": "Status", "status": "Failure", "message": message, "reason": reason, "code": code}
    ).encode()


def test_status_message_is_the_error_message() -> None:
    err = from_response(403, "Forbidden", status_body('pods "x" is forbidden: User "u" cannot get resource'))
    assert str(err) == 'pods "x" is forbidden: User "u" cannot get resource'
    assert err.status == 403
    assert err.reason == "Forbidden"


def test_long_messages_are_clipped() -> None:
    err = from_response(422, "Unprocessable Entity", status_body("x" * 5000, code=422, reason="Invalid"))
    assert len(str(err)) == MAX_MESSAGE
    assert str(err).endswith("...")


def test_jwts_bearer_values_and_the_call_token_are_scrubbed() -> None:
    message = f"bad token {JWT} and Bearer opaque-secret-1 and raw my-static-token"
    err = from_response(401, "Unauthorized", status_body(message, code=401), secret="my-static-token")
    text = str(err)
    assert JWT not in text
    assert "opaque-secret-1" not in text
    assert "my-static-token" not in text
    assert "<redacted>" in text


def test_a_token_cut_by_the_clip_is_still_scrubbed() -> None:
    message = "y" * (MAX_MESSAGE - 20) + " " + JWT
    err = from_response(400, "Bad Request", status_body(message, code=400))
    assert "eyJ" not in str(err)


def test_non_status_body() -> None:
    err = from_response(502, "Bad Gateway", b"<html>proxy error</html>")
    assert str(err) == "the server answered HTTP 502 Bad Gateway"
    assert err.status == 502


def test_watch_error_event() -> None:
    err = from_status_object(
        {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    )
    assert (err.status, err.reason, str(err)) == (410, "Expired", "too old resource version")


def test_connection_errors_have_no_status() -> None:
    err = from_connection_error(ConnectionRefusedError("Connection refused"), host="https://10.0.0.1:6443")
    assert err.status is None
    assert "cannot reach the Kubernetes API at https://10.0.0.1:6443" in str(err)
