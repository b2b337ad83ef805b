"""`python -m certcsi` is the `certcsi` command."""

from certcsi.cli import main

main()
