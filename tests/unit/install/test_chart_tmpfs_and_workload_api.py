"""certcsi's values for its own node flags: `app.driver.tmpfsSize` (both charts, --tmpfs-size) and the SPIFFE
chart's `app.driver.workloadAPI` (--workload-api, --workload-api-socket-name), rendered by the real Helm
engine. Unset, they render nothing, so the default install keeps upstream's container args exactly;
the schema accepts what the command accepts and refuses the rest naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import click
import helm_python as helm
import pytest
import yaml
from helm_charts import CHARTS_DIR, Chart, container, find, render

from certcsi.cli import main
from certcsi.drivers.spiffe.workload.opting import DEFAULT_SOCKET_NAME
from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE, valid_tmpfs_size

DRIVERS: dict[Chart, tuple[str, str]] = {
    "csi-driver": ("cert-manager-csi-driver", "driver"),
    "csi-driver-spiffe": ("cert-manager-csi-driver-spiffe", "spiffe-driver"),
}
SPIFFE: Chart = "csi-driver-spiffe"
OURS = ("--tmpfs-size", "--workload-api", "--workload-api-socket-name")


def _args(chart: Chart, *sets: str, values_files: Sequence[Path] = ()) -> list[str]:
    objects = render(chart, sets=sets, values_files=values_files)
    args: list[str] = container(find(objects, "DaemonSet"), DRIVERS[chart][0])["args"]
    return args


def _schema_error(chart: Chart, *sets: str, values_files: Sequence[Path] = ()) -> str:
    with pytest.raises(helm.HelmError) as caught:
        render(chart, sets=sets, values_files=values_files)
    return str(caught.value)


def _size_file(directory: Path, size: object) -> list[Path]:
    """A values file setting tmpfsSize, as an operator writes it (a string is quoted where YAML needs it)."""
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump({"app": {"driver": {"tmpfsSize": size}}}))
    return [path]


def _documented(chart: Chart, key: str) -> str:
    """The comment block right above `key:` in the chart's values.yaml."""
    lines = (CHARTS_DIR / chart / "values.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:"))
    block = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        block.append(line.strip().lstrip("# "))
    return " ".join(reversed(block))


@pytest.mark.parametrize("chart", DRIVERS)
def test_unset_they_render_none_of_certcsi_s_flags(chart: Chart) -> None:
    assert not [arg for arg in _args(chart) if arg.split("=")[0] in OURS]


@pytest.mark.parametrize("chart", DRIVERS)
def test_the_tmpfs_size_reaches_the_driver_and_its_default_is_documented(chart: Chart) -> None:
    assert _args(chart, "app.driver.tmpfsSize=2g")[-1] == "--tmpfs-size=2g"
    assert f"certcsi's default, {DEFAULT_TMPFS_SIZE}" in _documented(chart, "tmpfsSize")


@pytest.mark.parametrize("size", ["64m", "2G", "512k", "10%", "0", "1048576", "64Mi", "1m,mode=777", "-1", "1.5g"])
@pytest.mark.parametrize("chart", DRIVERS)
def test_the_schema_takes_exactly_the_sizes_the_command_takes(chart: Chart, size: str, tmp_path: Path) -> None:
    if valid_tmpfs_size(size):
        assert f"--tmpfs-size={size}" in _args(chart, values_files=_size_file(tmp_path, size))
    else:
        error = _schema_error(chart, values_files=_size_file(tmp_path, size))
        assert "at '/app/driver/tmpfsSize'" in error and "does not match pattern" in error


def test_a_number_is_refused_naming_the_key(tmp_path: Path) -> None:
    """YAML reads `tmpfsSize: 1024` as a number, which Helm's templates would print as 1.024e+03."""
    error = _schema_error("csi-driver", values_files=_size_file(tmp_path, 1024))
    assert "at '/app/driver/tmpfsSize': got number, want string" in error


def test_the_workload_api_flags_follow_their_values() -> None:
    assert _args(SPIFFE, "app.driver.workloadAPI.enabled=true")[-1] == "--workload-api"
    assert _args(SPIFFE, "app.driver.workloadAPI.socketName=workload.sock")[-1] == (
        "--workload-api-socket-name=workload.sock"
    )
    both = _args(SPIFFE, "app.driver.workloadAPI.enabled=true", "app.driver.workloadAPI.socketName=w.sock")
    assert both[-2:] == ["--workload-api", "--workload-api-socket-name=w.sock"]
    assert f"empty: {DEFAULT_SOCKET_NAME}" in _documented(SPIFFE, "socketName")


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("app.driver.workloadAPI.socketName=.hidden.sock", "at '/app/driver/workloadAPI/socketName'"),
        ("app.driver.workloadAPI.socketName=run/spiffe.sock", "at '/app/driver/workloadAPI/socketName'"),
        ("app.driver.workloadAPI.socketName=" + "s" * 65, "at '/app/driver/workloadAPI/socketName'"),
        ("app.driver.workloadAPI.enabled=yes", "at '/app/driver/workloadAPI/enabled': got string, want boolean"),
        ("app.driver.workloadAPI.socket=x", "additional properties 'socket' not allowed"),
    ],
)
def test_bad_workload_api_values_fail_naming_the_key(assignment: str, message: str) -> None:
    assert message in _schema_error(SPIFFE, assignment)


@pytest.mark.parametrize("chart", DRIVERS)
def test_every_flag_the_values_render_is_one_the_command_has(chart: Chart) -> None:
    sets = ["app.driver.tmpfsSize=1g"]
    if chart == SPIFFE:
        sets += ["app.driver.workloadAPI.enabled=true", "app.driver.workloadAPI.socketName=w.sock"]
    rendered = {re.sub(r"=.*", "", arg) for arg in _args(chart, *sets) if arg.split("=")[0] in OURS}
    command = main.commands[DRIVERS[chart][1]]  # type: ignore[attr-defined]
    known = {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}
    assert rendered and rendered <= known
