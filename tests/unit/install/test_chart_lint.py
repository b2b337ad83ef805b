"""Both charts pass `helm lint --strict` (the real Helm engine), at their defaults and at upstream's values."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest
import yaml
from helm_charts import CHARTS, CHARTS_DIR, Chart, upstream_values_file, user_values

from certcsi import __version__


def _lint(chart: Chart, values: dict[str, Any] | None = None) -> list[str]:
    report = helm.lint(CHARTS_DIR / chart, values, strict=True, namespace="cert-manager")
    return [f"{m['path']}: {m['error']}" for m in report["messages"]]


@pytest.mark.parametrize("chart", CHARTS)
def test_lint_is_clean_at_the_defaults(chart: Chart) -> None:
    assert _lint(chart) == []


@pytest.mark.parametrize("chart", CHARTS)
def test_lint_is_clean_with_upstream_s_values_file(chart: Chart) -> None:
    assert _lint(chart, user_values(values_files=[upstream_values_file(chart)])) == []


def test_lint_reports_a_schema_violation() -> None:
    # The linter must be able to fail: an unknown key is an error naming it.
    messages = _lint("csi-driver", {"app": {"drvier": {}}})
    assert any("additional properties 'drvier' not allowed" in m for m in messages)


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_version_and_app_version_are_certcsi_s(chart: Chart) -> None:
    meta = yaml.safe_load((CHARTS_DIR / chart / "Chart.yaml").read_text())
    assert meta["version"] == __version__
    assert meta["appVersion"] == __version__
    assert meta["name"] == f"cert-manager-{chart}"  # upstream's chart name: object names derive from it
