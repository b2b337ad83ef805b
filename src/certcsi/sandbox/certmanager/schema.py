"""The CertificateRequest CRD as cert-manager ships it, and its compiled schema (see apiserver/crdschema.py
for how kube-apiserver applies a CRD schema: prune, default, validate)."""

from __future__ import annotations

import functools
import importlib.resources

import yaml

from certcsi.sandbox.apiserver.crdschema import Cause, StructuralSchema, field_path, go_value

__all__ = [
    "Cause",
    "StructuralSchema",
    "certificate_request_schema",
    "crd_text",
    "field_path",
    "go_value",
    "openapi_schema",
]

Obj = dict[str, object]

_CRD_RESOURCE = "data/certificaterequests.crd.yaml"


def crd_text() -> str:
    """The packaged CRD, byte for byte as shipped (upstream's file)."""
    return importlib.resources.files("certcsi.sandbox").joinpath(_CRD_RESOURCE).read_text(encoding="utf-8")


@functools.cache
def openapi_schema(version: str = "v1") -> dict[str, object]:
    """The `openAPIV3Schema` of one served version of the CertificateRequest CRD."""
    documents = [doc for doc in yaml.safe_load_all(crd_text()) if doc]
    for doc in documents:
        for served in doc["spec"]["versions"]:
            if served["name"] == version:
                schema: dict[str, object] = served["schema"]["openAPIV3Schema"]
                return schema
    raise LookupError(f"the CertificateRequest CRD has no version {version!r}")


@functools.cache
def certificate_request_schema() -> StructuralSchema:
    """The compiled schema of cert-manager.io/v1 CertificateRequest."""
    return StructuralSchema(openapi_schema("v1"))
