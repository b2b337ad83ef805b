"""`certcsi install`: the complete manifests of one chart as multi-document YAML, like `helm template`.

Pure: reads only the `-f` files it is given, asks no cluster anything, and returns the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from certcsi.install import _csi_driver, _spiffe
from certcsi.install.values import Chart, Values, load_values

Obj = dict[str, Any]
_BUILDERS: Mapping[Chart, Callable[[Values], list[Obj]]] = {
    "csi-driver": _csi_driver.build,
    "csi-driver-spiffe": _spiffe.build,
}


class _Dumper(yaml.SafeDumper):
    """Plain YAML: a shared sub-object is written out again, never as an anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def build(values: Values) -> list[Obj]:
    """The objects of `values.chart`, in apply order (accounts and RBAC before the workloads using them)."""
    return _BUILDERS[values.chart](values)


def render(chart: Chart, *, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
    """The manifests of `chart` with upstream's value keys; raises ValuesError for bad values."""
    objects = build(load_values(chart, values_files=values_files, sets=sets))
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=10_000)
