"""Go's command-line grammar (spf13/pflag, what upstream's cobra commands parse) on click commands.

    --flag, --flag=true, --flag=false      a boolean (any strconv.ParseBool spelling: 1, t, TRUE, ...)
    --name=value, --name value             any other flag (click does these already)
    0x1f, 0o17, 017, 1_000                 integers, as strconv.ParseInt(s, 0, 64) reads them

A word after a boolean flag is never its value: `--flag false` is the flag and a stray argument,
refused, where Go would silently take `true` and ignore the word. Every usage error is one line
naming the flag and the rule, without the usage text click would print around it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["GoBool", "GoBoolOption", "GoCommand", "GoFloat", "GoInt", "parse_go_bool"]

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_GO_INT = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")


def parse_go_bool(text: str) -> bool:
    """`text` as Go's strconv.ParseBool reads it; ValueError naming the accepted spellings."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean: use true or false (also 1, t, T, TRUE, True, 0, f, F, FALSE, False)")


def parse_go_int(text: str) -> int:
    """`text` as strconv.ParseInt(text, 0, 64) reads it: a base prefix, or a leading 0 for octal."""
    if not _GO_INT.fullmatch(text) or "__" in text or text.endswith("_"):
        raise ValueError(f"{text!r} is not an integer")
    sign, digits = ("-" if text[0] == "-" else ""), text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB":
        digits = "0o" + digits[1:]  # Go's legacy octal
    value = int(sign + digits, 0)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{text!r} is out of range for a 64-bit integer")
    return value


def parse_go_float(text: str) -> float:
    """`text` as strconv.ParseFloat reads it (decimal, exponent, hex float, Inf, NaN)."""
    if text != text.strip() or not text:
        raise ValueError(f"{text!r} is not a number")
    try:
        if text.lstrip("+-")[:2] in ("0x", "0X"):  # Go's hexadecimal floats; Python's fromhex takes "abc" too
            return float.fromhex(text)
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


class GoBool(click.ParamType[bool]):
    name = "bool"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        try:
            return parse_go_bool(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


class GoInt(click.ParamType[int]):
    name = "int"

    def __init__(self, *, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = value if isinstance(value, int) else parse_go_int(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"must be at least {self.minimum}, got {number}", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"must be at most {self.maximum}, got {number}", param, ctx)
        return number


class GoFloat(click.ParamType[float]):
    name = "float"

    def __init__(self, *, finite: bool = False) -> None:
        self.finite = finite

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value) if isinstance(value, int | float) else parse_go_float(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)
        if math.isnan(number) or (self.finite and math.isinf(number)):
            self.fail(f"{value!r} is not a {'finite ' if self.finite else ''}number", param, ctx)
        return number


class GoBoolOption(click.Option):
    """A boolean flag in Go's grammar: `--name` alone is true, `--name=false` turns it off."""

    def __init__(self, param_decls: Sequence[str], **attrs: Any) -> None:
        attrs.setdefault("default", False)
        attrs.setdefault("metavar", "[=BOOL]")
        super().__init__(param_decls, type=GoBool(), **attrs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        return ", ".join(f"{name}[=true|false]" for name in self.opts), record[1]


class FlagError(click.ClickException):
    """A command line the command cannot run with, reported in one line (exit code 2, as click's usage errors)."""

    exit_code = 2


def _one_line(ctx: click.Context, err: click.UsageError) -> click.ClickException:
    # click would print the usage and a hint around it; upstream prints the error alone.
    return FlagError(f"{ctx.command_path}: {err.format_message()}")


class GoCommand(click.Command):
    """A click command that reads its arguments in Go's grammar and reports errors in one line."""

    def _bool_flags(self) -> frozenset[str]:
        return frozenset(name for p in self.params if isinstance(p, GoBoolOption) for name in p.opts)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        flags = self._bool_flags()
        normalised: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                normalised += args[index:]
                break
            if arg in flags and index + 1 < len(args) and args[index + 1] in _TRUE | _FALSE:
                raise _one_line(ctx, click.UsageError(f"{arg} takes its value after '=': {arg}={args[index + 1]}"))
            # A bare boolean flag gets its value attached, so click never takes the next word for it.
            normalised.append(f"{arg}=true" if arg in flags else arg)
        return super().parse_args(ctx, normalised)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            ctx = err.ctx or click.Context(self, info_name=info_name, parent=parent)
            raise _one_line(ctx, err) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            raise _one_line(ctx, err) from None
