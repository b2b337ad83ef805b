"""certcsi's Helm charts (deploy/charts) rendered by the real Helm engine, for tests.

    objects = render("csi-driver", sets=["app.driver.useTokenRequest=true"])   # like `helm template`
    objects = render("csi-driver-spiffe", values_files=[upstream_values])       # `-f` files, then `--set`s
    find(objects, "DaemonSet"), container(daemonset, "cert-manager-csi-driver")

The release name and namespace are those of upstream's rendered manifests in ../shared/data/upstream
(release = chart directory name, namespace cert-manager), so the two compare object for object. Bad
values raise helm_python.HelmValuesError (schema) or HelmRenderError (a template's `fail`), as
`helm install` reports them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO / "deploy" / "charts"
UPSTREAM_DATA = REPO.parent / "shared" / "data" / "upstream"
Chart = Literal["csi-driver", "csi-driver-spiffe"]
CHARTS: tuple[Chart, ...] = ("csi-driver", "csi-driver-spiffe")
NAMESPACE = "cert-manager"
# The upstream manifests were rendered with these values beyond the chart defaults.
UPSTREAM_SETS: Mapping[Chart, tuple[str, ...]] = {
    "csi-driver": (),
    "csi-driver-spiffe": ("app.trustDomain=cluster.local",),
}
UPSTREAM_FILES: Mapping[Chart, str] = {
    "csi-driver": "csi-driver-v0.16.0",
    "csi-driver-spiffe": "csi-driver-spiffe-v0.15.0",
}
Obj = dict[str, Any]


@functools.cache
def load(chart: Chart) -> helm.Chart:
    """The chart as Helm loads it (charts are immutable, so one load serves every test)."""
    return helm.Chart.load(CHARTS_DIR / chart)


def merge(into: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user-supplied values: maps merge key by key, anything else replaces."""
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def user_values(*, values_files: Iterable[Path] = (), sets: Iterable[str] = ()) -> dict[str, Any]:
    """What `helm install -f FILE... --set K=V...` passes as user-supplied values."""
    values: dict[str, Any] = {}
    for path in values_files:
        merge(values, yaml.safe_load(path.read_text()) or {})
    if sets:
        # One expression, as Helm parses every --set into the same map (list items merge by index).
        merge(values, helm.parse_set_string(",".join(sets)))
    return values


def render_text(chart: Chart, *, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> dict[str, str]:
    """Template path -> rendered text, as `helm template <chart> --namespace cert-manager` prints it."""
    return load(chart).render(
        user_values(values_files=values_files, sets=sets), name=chart, namespace=NAMESPACE, is_install=True
    )


def render(chart: Chart, *, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> list[Obj]:
    """The chart's objects, in template order (NOTES.txt left out)."""
    return parse(render_text(chart, values_files=values_files, sets=sets))


def parse(manifests: Mapping[str, str]) -> list[Obj]:
    objects: list[Obj] = []
    for template in sorted(manifests):
        if template.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(manifests[template]) if doc]
    return objects


def upstream_objects(chart: Chart) -> list[Obj]:
    """Upstream's rendered manifests at its default values (../shared/data/upstream)."""
    text = (UPSTREAM_DATA / f"{UPSTREAM_FILES[chart]}.rendered.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def upstream_values_file(chart: Chart) -> Path:
    return UPSTREAM_DATA / f"{UPSTREAM_FILES[chart]}.values.yaml"


def key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def find(objects: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    """The one object of `kind` (named `name`, when given)."""
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        raise LookupError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def container(workload: Obj, name: str) -> Obj:
    containers: list[Obj] = workload["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def notes(chart: Chart, *, values_files: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
    manifests = render_text(chart, values_files=values_files, sets=sets)
    return next(text for template, text in manifests.items() if template.endswith("NOTES.txt"))


def sandbox_chart_yaml(chart: Chart) -> str:
    """What `certcsi sandbox up --with <chart>` installs (src/certcsi/sandbox/data/, kept current by a test):
    every object the chart renders at the sandbox's values."""
    from certcsi.sandbox.bringup import CHART_SETS

    sets = CHART_SETS[chart]
    shown = f" --set {' --set '.join(sets)}" if sets else ""
    header = (
        f"# Generated from deploy/charts/{chart}{shown}: what `certcsi sandbox up --with {chart}` installs.\n"
        f"# Regenerate: python tests/support/helm_charts.py {chart} > src/certcsi/sandbox/data/{chart}.chart.yaml\n"
    )
    return header + yaml.safe_dump_all(render(chart, sets=sets), sort_keys=False, explicit_start=True)


if __name__ == "__main__":
    import sys

    print(sandbox_chart_yaml(sys.argv[1]), end="")  # type: ignore[arg-type]
