"""A small reader of Dockerfiles and .dockerignore files, for static checks that need no image build.

It covers the subset certcsi's Dockerfile uses (stages, flags, exec-form JSON, line continuations,
ARG defaults, global ARGs in FROM) and refuses what it does not understand (heredocs, a changed escape
character) instead of guessing. The .dockerignore matcher follows moby/patternmatcher: patterns are
cleaned paths, `*` and `?` stop at `/`, `**` spans directories, a pattern matching a parent directory
matches everything under it, and the last matching line wins (`!` re-includes).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass


class UnsupportedDockerfile(ValueError):
    """The Dockerfile uses syntax this reader does not model."""


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case, e.g. "COPY"
    arguments: str  # the text after the keyword, continuation lines joined with a space
    line: int  # 1-based line of the keyword

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """Leading `--name=value` flags (`--flag` alone maps to ""), and the text after them."""
        flags: dict[str, str] = {}
        rest = self.arguments.strip()
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        return flags, rest

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or None for shell form."""
        _, rest = self.flags_and_rest()
        if not rest.startswith("["):
            return None
        parsed = json.loads(rest)
        if not (isinstance(parsed, list) and all(isinstance(item, str) for item in parsed)):
            raise UnsupportedDockerfile(f"line {self.line}: {self.keyword} is not a JSON array of strings")
        return parsed

    def words(self) -> list[str]:
        """Arguments after the flags: the exec-form array, else shell-style words."""
        form = self.exec_form()
        return form if form is not None else shlex.split(self.flags_and_rest()[1])


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def arg_defaults(self) -> dict[str, str]:
        defaults: dict[str, str] = {}
        for instruction in self.all("ARG"):
            name, _, value = instruction.arguments.strip().partition("=")
            defaults[name] = value.strip("\"'")
        return defaults

    def labels(self) -> dict[str, str]:
        """Every LABEL key and value, with `${ARG}` / `$ARG` replaced by the stage's ARG defaults."""
        defaults = self.arg_defaults()
        labels: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            for word in shlex.split(instruction.arguments):
                key, _, value = word.partition("=")
                labels[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), value)
        return labels


@dataclass(frozen=True)
class Dockerfile:
    stages: tuple[Stage, ...]
    global_args: dict[str, str]  # ARG defaults before the first FROM: what FROM lines may use

    def base(self, stage: Stage) -> str:
        """The stage's base with `${ARG}` / `$ARG` replaced by the global ARG defaults."""
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.global_args.get(m.group(1), m.group(0)), stage.base)

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage_names(self) -> set[str]:
        return {stage.name for stage in self.stages if stage.name}


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: comments dropped, `\\` continuations joined."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if number == 1 and re.match(r"#\s*escape\s*=", stripped):
            raise UnsupportedDockerfile("line 1: a changed escape character is not modelled")
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment and empty lines, also inside a continuation
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            lines.append((start, " ".join(part for part in pending if part)))
            pending = []
    if pending:
        raise UnsupportedDockerfile(f"line {start}: the last instruction ends in a continuation")
    return lines


def parse_dockerfile(text: str) -> Dockerfile:
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    base = ""
    name: str | None = None
    body: list[Instruction] = []
    for number, line in _logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword=keyword.upper(), arguments=arguments.strip(), line=number)
        if "<<" in arguments and instruction.keyword in {"RUN", "COPY"}:
            raise UnsupportedDockerfile(f"line {number}: heredocs are not modelled")
        if instruction.keyword == "FROM":
            if base:
                stages.append(Stage(base=base, name=name, instructions=tuple(body)))
            words = instruction.flags_and_rest()[1].split()
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            body = []
        elif not base and instruction.keyword != "ARG":
            raise UnsupportedDockerfile(f"line {number}: {instruction.keyword} before the first FROM")
        elif not base:
            key, _, value = instruction.arguments.partition("=")
            global_args[key.strip()] = value.strip().strip("\"'")
        else:
            body.append(instruction)
    if not base:
        raise UnsupportedDockerfile("no FROM instruction")
    stages.append(Stage(base=base, name=name, instructions=tuple(body)))
    return Dockerfile(stages=tuple(stages), global_args=global_args)


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    exclusion: bool  # a `!` line: re-includes what it matches


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif char in "[]-^":
            out += char  # character classes pass through, as in filepath.Match
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + "$")


def parse_dockerignore(text: str) -> tuple[IgnorePattern, ...]:
    patterns: list[IgnorePattern] = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = posixpath.normpath(line)
        if len(cleaned) > 1 and cleaned.startswith("/"):
            cleaned = cleaned.lstrip("/")
        patterns.append(IgnorePattern(regex=_pattern_regex(cleaned), exclusion=exclusion))
    return tuple(patterns)


def is_ignored(patterns: tuple[IgnorePattern, ...], path: str) -> bool:
    """Whether the build context leaves out `path` (relative, `/`-separated)."""
    parents = posixpath.dirname(path).split("/") if "/" in path else []
    prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
    ignored = False
    for pattern in patterns:
        if pattern.regex.match(path) or any(pattern.regex.match(prefix) for prefix in prefixes):
            ignored = not pattern.exclusion
    return ignored
