"""Image references: certcsi's by default, upstream's rules for overrides, never upstream's Go images."""

from __future__ import annotations

import pytest
from chart_support import DIGEST
from helm_charts import Chart, container, find, notes, render

CERTCSI = "ghcr.io/certcsi/certcsi:0.1.0"
DRIVER = ("DaemonSet", "cert-manager-csi-driver")
SPIFFE_DRIVER = ("DaemonSet", "cert-manager-csi-driver-spiffe")
APPROVER = ("Deployment", "cert-manager-csi-driver-spiffe-approver")


def _image(chart: Chart, where: tuple[str, str], *sets: str) -> str:
    kind, name = where
    image: str = container(find(render(chart, sets=sets), kind), name)["image"]
    return image


@pytest.mark.parametrize(
    ("chart", "where"), [("csi-driver", DRIVER), ("csi-driver-spiffe", SPIFFE_DRIVER), ("csi-driver-spiffe", APPROVER)]
)
def test_certcsi_s_image_by_default(chart: Chart, where: tuple[str, str]) -> None:
    assert _image(chart, where) == CERTCSI


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["imageRegistry=mirror.example.com", "imageNamespace=platform"], "mirror.example.com/platform/certcsi:0.1.0"),
        (["image.repository=mirror.example.com/certcsi"], "mirror.example.com/certcsi:0.1.0"),
        (
            ["image.registry=mirror.example.com", "image.repository=certcsi/certcsi"],
            "mirror.example.com/certcsi/certcsi:0.1.0",
        ),
        (["image.tag=0.2.0"], "ghcr.io/certcsi/certcsi:0.2.0"),
        (["image.tag=0.2.0", f"image.digest={DIGEST}"], f"ghcr.io/certcsi/certcsi@{DIGEST}"),
    ],
)
def test_overrides_follow_upstream_s_image_rules(sets: list[str], expected: str) -> None:
    assert _image("csi-driver", DRIVER, *sets) == expected


@pytest.mark.parametrize(
    ("chart", "where", "sets"),
    [
        (
            "csi-driver",
            DRIVER,
            ["imageRegistry=quay.io", "imageNamespace=jetstack", "image.name=cert-manager-csi-driver"],
        ),
        ("csi-driver", DRIVER, ["image.repository=quay.io/jetstack/cert-manager-csi-driver", "image.tag=v0.10.0"]),
        ("csi-driver-spiffe", SPIFFE_DRIVER, ["driverImage.name=cert-manager-csi-driver-spiffe"]),
        (
            "csi-driver-spiffe",
            APPROVER,
            ["image.repository.approver=quay.io/jetstack/cert-manager-csi-driver-spiffe-approver"],
        ),
    ],
)
def test_upstream_s_go_images_become_certcsi_s(chart: Chart, where: tuple[str, str], sets: list[str]) -> None:
    assert _image(chart, where, *sets) == CERTCSI


def test_the_install_notes_say_when_upstream_s_image_was_replaced() -> None:
    said = notes("csi-driver", sets=["image.repository=quay.io/jetstack/cert-manager-csi-driver"])
    assert "upstream's Go image (quay.io/jetstack/cert-manager-csi-driver:0.1.0), which cannot run certcsi" in said
    assert "cannot run certcsi" not in notes("csi-driver")


def test_the_earlier_spiffe_image_block_wins_field_by_field() -> None:
    sets = [
        "image.registry=old.example.com",
        "image.repository.driver=old/driver",
        "image.tag=v0.5.0",
        "driverImage.repository=new/driver",
        "driverImage.tag=v1.0.0",
        "approverImage.repository=new/approver",
        f"image.digest.approver={DIGEST}",
    ]
    assert _image("csi-driver-spiffe", SPIFFE_DRIVER, *sets) == "old.example.com/old/driver:v0.5.0"
    assert _image("csi-driver-spiffe", APPROVER, *sets) == f"old.example.com/new/approver@{DIGEST}"


def test_sidecars_follow_upstream_s_current_scheme() -> None:
    sets = ["nodeDriverRegistrarImage.repository=", "imageRegistry=quay.io", "imageNamespace=jetstack"]
    daemonset = find(render("csi-driver", sets=sets), "DaemonSet")
    registrar = container(daemonset, "node-driver-registrar")["image"]
    assert registrar.startswith("quay.io/jetstack/csi-node-driver-registrar:v2.15.0@sha256:")
