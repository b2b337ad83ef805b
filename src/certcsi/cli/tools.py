"""The operator's tools: `certcsi inspect` (this node's volumes). Installing is Helm's job (deploy/charts)."""

from __future__ import annotations

from pathlib import Path

import click


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
