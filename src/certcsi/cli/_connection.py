"""The Kubernetes client flags every product command takes: kubectl's connection flags and the client budget.

Upstream's commands register cli-runtime's ConfigFlags (kubectl's --kubeconfig, --context,
--server, ...), so a deployment may pass any of them; they mean here what they mean to kubectl.
`--namespace` and `--cache-dir` are accepted and, as upstream, have no effect on these commands
(every call names its namespace; nothing is discovered).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from certcsi.cli._goflags import GoBoolOption, GoFloat, GoInt

if TYPE_CHECKING:
    from certcsi.kube.config import ClientConfig

__all__ = ["CONNECTION_PARAMS", "budget_options", "client_budget", "kube_connection_options", "parse_request_timeout"]

F = TypeVar("F", bound=Callable[..., Any])

_NAMES = (
    "kubeconfig",
    "cache_dir",
    "certificate_authority",
    "client_certificate",
    "client_key",
    "token",
    "impersonate",
    "impersonate_groups",
    "impersonate_uid",
    "cluster",
    "user",
    "namespace",
    "context",
    "server",
    "tls_server_name",
    "insecure_skip_tls_verify",
    "request_timeout",
    "disable_compression",
)


CONNECTION_PARAMS = frozenset(_NAMES)


def parse_request_timeout(text: str) -> float:
    """kubectl's --request-timeout: whole seconds, or a Go duration ("1s", "2m"); 0 means none."""
    from certcsi.durations import parse_go_duration

    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        seconds = parse_go_duration(text).total_seconds()
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ValueError(
            f"{text!r}: want whole seconds or a number with a unit (e.g. 1s, 2m, 3h); 0 means no timeout"
        )
    return seconds


def _request_timeout(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_request_timeout(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


_OPTIONS = (
    click.option(
        "--kubeconfig",
        default=None,
        help="Path to the kubeconfig file to use (else KUBECONFIG, else ~/.kube/config, else the pod's "
        "service account).",
    ),
    click.option("--context", default=None, help="The name of the kubeconfig context to use."),
    click.option("--cluster", default=None, help="The name of the kubeconfig cluster to use."),
    click.option("--user", default=None, help="The name of the kubeconfig user to use."),
    click.option("-s", "--server", default=None, help="The address and port of the Kubernetes API server."),
    click.option(
        "--certificate-authority", default=None, help="Path to a cert file for the certificate authority."
    ),
    click.option("--client-certificate", default=None, help="Path to a client certificate file for TLS."),
    click.option("--client-key", default=None, help="Path to a client key file for TLS."),
    click.option(
        "--token",
        default=None,
        help="Bearer token for authentication to the API server (other local users can read a process's "
        "arguments: prefer a kubeconfig).",
    ),
    click.option(
        "--insecure-skip-tls-verify",
        cls=GoBoolOption,
        help="If true, the server's certificate is not checked: the connection is insecure.",
    ),
    click.option(
        "--tls-server-name",
        default=None,
        help="Server name to use for server certificate validation (default: the server's host name).",
    ),
    click.option("--as", "impersonate", default=None, help="Username to impersonate for the operation."),
    click.option(
        "--as-group",
        "impersonate_groups",
        multiple=True,
        help="Group to impersonate for the operation; repeatable.",
    ),
    click.option("--as-uid", "impersonate_uid", default=None, help="UID to impersonate for the operation."),
    click.option(
        "--request-timeout",
        default="0",
        show_default=True,
        callback=_request_timeout,
        help="How long to wait for one server request (watches excepted): whole seconds or 1s, 2m, 3h; "
        "0 means the client's own limit.",
    ),
    click.option(
        "--disable-compression",
        cls=GoBoolOption,
        help="If true, ask the server for uncompressed responses.",
    ),
    click.option("-n", "--namespace", default=None, help="Accepted as kubectl's; no effect on this command."),
    click.option("--cache-dir", default=None, help="Accepted as kubectl's; no effect (nothing is discovered)."),
)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _client_config(params: dict[str, Any]) -> ClientConfig:
    from certcsi.kube._access import Overrides
    from certcsi.kube.config import ClientConfig

    overrides = Overrides(
        context=params["context"] or None,
        cluster=params["cluster"] or None,
        user=params["user"] or None,
        server=params["server"] or None,
        certificate_authority=_path(params["certificate_authority"]),
        insecure_skip_tls_verify=params["insecure_skip_tls_verify"],
        tls_server_name=params["tls_server_name"] or None,
        client_certificate=_path(params["client_certificate"]),
        client_key=_path(params["client_key"]),
        token=params["token"] or None,
        impersonate=params["impersonate"] or None,
        impersonate_uid=params["impersonate_uid"] or None,
        impersonate_groups=tuple(params["impersonate_groups"]),
    )
    return ClientConfig(
        kubeconfig=params["kubeconfig"] or None,
        overrides=overrides,
        request_timeout=params["request_timeout"],
        disable_compression=params["disable_compression"],
    )


def kube_connection_options(command: Callable[..., None]) -> Callable[..., None]:
    """kubectl's connection flags; the command receives them as one `kube: ClientConfig`.

    Put it directly above the `def`: these flags then follow the command's own in --help.
    """

    @functools.wraps(command)
    def with_connection(**params: Any) -> None:
        given = {name: params.pop(name) for name in _NAMES}
        command(kube=_client_config(given), **params)

    decorated: Callable[..., None] = with_connection
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated


def budget_options(*, qps: float, burst: int, what: str) -> Callable[[F], F]:
    """--kube-api-qps / --kube-api-burst: 0 (the default, as upstream) means the client's default."""
    options = (
        click.option(
            "--kube-api-qps",
            type=GoFloat(),
            default=0.0,
            show_default=True,
            help=f"{what}, requests per second; 0: the client's default ({qps:g}); negative: no limit.",
        ),
        click.option(
            "--kube-api-burst",
            type=GoInt(minimum=0),
            default=0,
            show_default=True,
            help=f"The same budget's burst; 0: the client's default ({burst}).",
        ),
    )

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def client_budget(*, qps: float, burst: int, default_qps: float, default_burst: int) -> tuple[float, int]:
    """The client budget as client-go reads QPS and Burst: 0 is the default, a negative QPS no limit."""
    if qps < 0 or math.isinf(qps):
        qps = math.inf
    elif qps == 0:
        qps = default_qps
    return qps, burst or default_burst
