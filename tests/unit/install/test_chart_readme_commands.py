"""README's `helm install` / `helm upgrade` commands name our charts and values that render."""

from __future__ import annotations

import re
import shlex
from typing import cast

import pytest
from helm_charts import CHARTS, REPO, Chart, find, render

README = (REPO / "README.md").read_text()


def _commands() -> list[list[str]]:
    joined = README.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if re.match(r"helm (install|upgrade) ", line)]


def test_readme_installs_and_upgrades_both_charts_under_upstream_s_release_names() -> None:
    seen = {(words[1], words[2], words[3]) for words in _commands()}
    for chart in CHARTS:
        for verb in ("install", "upgrade"):
            assert (verb, f"cert-manager-{chart}", f"./deploy/charts/{chart}") in seen


@pytest.mark.parametrize("words", _commands(), ids=lambda words: " ".join(words[:3]))
def test_each_readme_command_renders(words: list[str]) -> None:
    chart = cast(Chart, words[3].removeprefix("./deploy/charts/"))
    assert chart in CHARTS
    sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    assert words[words.index("--namespace") + 1] == "cert-manager"
    assert find(render(chart, sets=sets), "DaemonSet")
