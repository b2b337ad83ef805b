"""Modules generated from proto/csi.proto by `python -m certcsi.csi.gen`; do not edit."""
