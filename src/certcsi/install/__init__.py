"""`certcsi install csi-driver | csi-driver-spiffe`: render the manifests upstream's Helm charts would.

render(chart, *, values_files, sets) -> str   multi-document YAML for `kubectl apply -f -`
build(values) -> list[dict]                   the same objects, unserialised
load_values(chart, *, values_files, sets)     defaults + `-f` files + `--set`, checked
ValuesError                                   unknown key, wrong type or broken rule, naming the key
"""

from certcsi.install._errors import ValuesError
from certcsi.install.render import build, render
from certcsi.install.values import CHARTS, Chart, Values, load_values

__all__ = ["CHARTS", "Chart", "Values", "ValuesError", "build", "load_values", "render"]
