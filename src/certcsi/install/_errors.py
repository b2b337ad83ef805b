"""The one error `certcsi install` raises for bad input."""

from __future__ import annotations


class ValuesError(Exception):
    """A values file or `--set` is wrong; the message names the key (when there is one) and the rule."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
