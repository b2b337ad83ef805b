"""The one `certcsi` command: drivers, approver, sandbox and inspect.

Each command lives in the module of its kind (`node`, `approver`, `sandbox`, `tools`); this module
holds the group they hang from, which is the console script `certcsi` and `python -m certcsi`.
"""

from __future__ import annotations

import click

from certcsi import __version__
from certcsi.cli.approver import approver_command
from certcsi.cli.node import driver_command, spiffe_driver_command
from certcsi.cli.sandbox import sandbox
from certcsi.cli.tools import inspect_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="certcsi")
def main() -> None:
    """certcsi: a fresh key and a cert-manager-signed certificate in every pod, through CSI."""


for _command in (sandbox, driver_command, spiffe_driver_command, approver_command, inspect_command):
    main.add_command(_command)
