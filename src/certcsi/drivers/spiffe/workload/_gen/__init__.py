"""Modules generated from proto/workload.proto by `python -m certcsi.drivers.spiffe.workload.gen`; do not edit."""
