"""Concrete drivers: each turns a volume into a CertificateRequest and an issued certificate into files.

The engine (`certcsi.volumes`) never imports these; the CLI wires one in.
"""
