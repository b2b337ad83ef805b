"""No value can make an installed driver run with `--unsafe-no-mount` (the demo-only flag)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from install_support import ALL_CONFIGS, Obj, config_objects, objects

from certcsi.install import Chart, ValuesError
from certcsi.install.values import SCHEMAS, Kind, Leaf, Tree

UNSAFE = "--unsafe-no-mount"


def _command_lines(found: list[Obj]) -> Iterator[str]:
    for workload in (o for o in found if o["kind"] in ("DaemonSet", "Deployment")):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            yield from container.get("command", [])
            yield from container.get("args", [])


def _string_keys(tree: Tree, prefix: str = "") -> Iterator[str]:
    for key, node in tree.items():
        if isinstance(node, Leaf):
            if node.kind is Kind.STRING:
                yield prefix + key
        else:
            yield from _string_keys(node, prefix + key + ".")


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_representative_installs_never_carry_the_flag(chart: Chart, config: str) -> None:
    lines = list(_command_lines(config_objects(chart, config)))
    assert lines
    assert not [line for line in lines if line.startswith("--unsafe")]


@pytest.mark.parametrize(
    ("chart", "key"),
    [(chart, key) for chart in ("csi-driver", "csi-driver-spiffe") for key in _string_keys(SCHEMAS[chart])],
)
def test_no_string_value_becomes_the_flag(chart: Chart, key: str) -> None:
    # Every value lands inside `--flag=value` or a field, never as an argument of its own.
    try:
        found = objects(chart, [f"{key}={UNSAFE}"])
    except ValuesError:
        return  # rejected outright (a path, a port, a duration, a pull policy)
    assert UNSAFE not in list(_command_lines(found))


def test_the_check_would_see_the_flag() -> None:
    found = objects("csi-driver")
    daemonset = next(o for o in found if o["kind"] == "DaemonSet")
    daemonset["spec"]["template"]["spec"]["containers"][-1]["args"].append(UNSAFE)
    assert UNSAFE in list(_command_lines(found))
