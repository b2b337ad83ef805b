"""The logging flags: upstream's `--log-level=N` (alias `-v`, klog-style) and `--logging-format=text|json`.

    --log-level=N, -v=N, -v N, -vN, --v=N, --verbosity=N    level N
    -v, -vv, -v -v                                            one level per v (certcsi's own shorthand)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from certcsi.logs import LOG_FORMATS, MAX_VERBOSITY, configure

__all__ = ["configure_from_cli", "parse_verbosity", "verbosity_option"]

_META_KEY = "certcsi.log_format"

F = TypeVar("F", bound=Callable[..., Any])


def parse_verbosity(values: Sequence[str], *, default: int = 0) -> int:
    """The level from every `-v` given: the highest explicit N, or the number of v's, whichever is more."""
    if not values:
        return default
    count, level = 0, 0
    for raw in values:
        text = raw[1:] if raw.startswith("=") else raw
        if not text or set(text) == {"v"}:
            count += 1 + len(text)  # "-vvv" reaches us as "-v" with the value "vv"
        elif text.isascii() and text.isdigit():
            level = max(level, int(text))
        else:
            raise ValueError(
                f"want --log-level=N, -v=N or -v N with N a non-negative integer (or -v repeated), got {raw!r}"
            )
    return min(max(count, level), MAX_VERBOSITY)


def _format_callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[_META_KEY] = value
    return value


def verbosity_option(*, default: int = 0) -> Callable[[F], F]:
    """`--log-level` / `-v` (passed to the command as `verbosity: int`) and `--logging-format`.

    `--logging-format` is not passed to the command: `configure_from_cli` reads it from the context.
    """

    def callback(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> int:
        try:
            return parse_verbosity(values, default=default)
        except ValueError as err:
            raise click.BadParameter(str(err), ctx=ctx, param=param) from None

    def decorate(command: F) -> F:
        command = click.option(
            "--logging-format",
            "--log-format",
            type=click.Choice(LOG_FORMATS),
            default="text",
            show_default=True,
            expose_value=False,
            callback=_format_callback,
            help="text: upstream's klog lines; json: Kubernetes' JSON lines (ts, logger, caller, msg, v or err, "
            "and the record's fields).",
        )(command)
        return click.option(
            "--log-level",
            "-v",
            "--v",
            "--verbosity",
            "verbosity",
            multiple=True,
            is_flag=False,
            flag_value="",
            metavar="N",
            callback=callback,
            help=f"Log level, as upstream's (klog): 0 warnings, 1-2 info, 3-4 debug, 5+ debug including "
            f"libraries; -v alone counts one. [default: {default}]",
        )(command)

    return decorate


def configure_from_cli(verbosity: int) -> None:
    """`configure` with the current command's `--logging-format` (text when the command has none)."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get(_META_KEY, "text") if ctx is not None else "text"
    configure(verbosity=verbosity, log_format="json" if chosen == "json" else "text")
