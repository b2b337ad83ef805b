"""The operator's tools: `certcsi install` (manifests for a chart) and `certcsi inspect` (this node's volumes)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("install")
@click.argument("chart", type=click.Choice(["csi-driver", "csi-driver-spiffe"]))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a value (Helm syntax); repeatable.")
@click.option(
    "-f",
    "--values",
    "values_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A values file (upstream Helm values work); repeatable, later wins.",
)
def install_command(chart: str, sets: tuple[str, ...], values_files: tuple[Path, ...]) -> None:
    """Print the manifests to install CHART: `certcsi install csi-driver | kubectl apply -f -`."""
    from certcsi.install import ValuesError, render

    try:
        click.echo(render(chart, values_files=values_files, sets=sets), nl=False)  # type: ignore[arg-type]
    except ValuesError as e:
        raise click.UsageError(str(e)) from None


def _parse_pod(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, str] | None:
    from certcsi.inspecting import parse_pod

    if value is None:
        return None
    try:
        return parse_pod(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


@click.command("inspect")
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=Path("/csi-data-dir"),
    show_default=True,
    help="The driver's --data-root (volumes are read from <data-root>/inmemfs).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of volumes instead of a table.")
@click.option("--pod", callback=_parse_pod, metavar="NAMESPACE/NAME", help="Only this pod's volumes, in detail.")
def inspect_command(data_root: Path, as_json: bool, pod: tuple[str, str] | None) -> None:
    """Show every volume on this node: pod, identity, not-after, next renewal, last error (no API needed)."""
    import sys

    from certcsi.inspecting import run

    code = run(data_root=data_root, as_json=as_json, pod=pod, out=sys.stdout, err=sys.stderr)
    if code:
        raise SystemExit(code)
