"""Each RPC is logged once as an event with its fields, and no secret ever reaches a log record."""

from __future__ import annotations

import logging

import grpc
import pytest
from csi_harness import VOLUME_ID, Harness, publish_request

from certcsi import errors
from certcsi.csi._gen import csi_pb2

TOKEN_KEY = "csi.storage.k8s.io/serviceAccount.tokens"
PASSWORD_KEY = "csi.cert-manager.io/pkcs12-password"
# Not JWT-shaped on purpose: only "never logged" keeps these out, not the scrubber.
PLAIN_TOKEN = "plain-token-VALUE-7f3a"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"
PASSWORD = "pkcs12-password-VALUE-91c2"
SECRET = "secret-map-VALUE-55d0"


def _rpc_events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "rpc"]


async def test_publish_is_one_debug_event_with_fields(csi: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """At info the volume manager tells of a volume's publish once; kubelet's republishes are routine."""
    caplog.set_level(logging.DEBUG)
    await csi.node.NodePublishVolume(publish_request())
    (event,) = _rpc_events(caplog)
    assert event.levelno == logging.DEBUG
    assert event.__dict__["method"] == "/csi.v1.Node/NodePublishVolume"
    assert event.__dict__["volume_id"] == VOLUME_ID
    assert event.__dict__["pod"] == "default/web-0"
    assert event.__dict__["code"] == "OK"
    assert event.__dict__["duration_ms"] == 250.0  # one step of the injected clock
    # Each field once: the message does not repeat them, and a success has no error field.
    assert event.getMessage() == "rpc" and "error" not in event.__dict__


async def test_probe_success_is_debug(csi: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await csi.identity.Probe(csi_pb2.ProbeRequest())
    (event,) = _rpc_events(caplog)
    assert event.levelno == logging.DEBUG
    assert event.__dict__["method"] == "/csi.v1.Identity/Probe"


async def test_failure_is_warning_with_code_and_error(csi: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(grpc.aio.AioRpcError):
        await csi.node.NodePublishVolume(publish_request(volume_id=""))
    (event,) = _rpc_events(caplog)
    assert event.levelno == logging.WARNING
    assert event.__dict__["code"] == "INVALID_ARGUMENT"
    assert event.__dict__["error"] == "volume_id is required"


@pytest.mark.parametrize("token", [PLAIN_TOKEN, JWT])
@pytest.mark.parametrize("fail", [False, True])
async def test_no_secret_in_any_log_record(
    csi: Harness, caplog: pytest.LogCaptureFixture, token: str, fail: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    if fail:
        csi.backend.error = errors.InvalidVolumeAttribute(PASSWORD_KEY, "must not be empty when keystore is set")
    context = {
        "csi.storage.k8s.io/ephemeral": "true",
        TOKEN_KEY: f'{{"": {{"token": "{token}", "expirationTimestamp": "2030-01-01T00:00:00Z"}}}}',
        PASSWORD_KEY: PASSWORD,
    }
    request = publish_request(volume_context=context, secrets={TOKEN_KEY: token, "other": SECRET})
    try:
        await csi.node.NodePublishVolume(request)
    except grpc.aio.AioRpcError:
        assert fail
    assert _rpc_events(caplog), "the RPC must have been logged for this test to mean anything"
    everything = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    for value in (token, PASSWORD, SECRET):
        assert value not in everything
