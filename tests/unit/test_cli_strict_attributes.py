"""`--strict-attributes` on both node drivers: unknown keys in the driver's namespace fail the volume."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from node_commands import collect_runs

from certcsi.cli import main
from certcsi.errors import InvalidVolume, InvalidVolumeAttribute
from certcsi.volumes.driver import Volume

POD = {
    "csi.storage.k8s.io/pod.name": "web-0",
    "csi.storage.k8s.io/pod.namespace": "team",
    "csi.storage.k8s.io/pod.uid": "uid-1",
    "csi.storage.k8s.io/serviceAccount.name": "web",
}


@pytest.fixture
def drivers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run the command without starting anything; collect the driver it would run."""
    return collect_runs(monkeypatch, lambda run: run["driver"])


def _volume(**attributes: str) -> Volume:
    return Volume(volume_id="csi-1", target_path="/t", attributes={**POD, **attributes})


@pytest.mark.parametrize("strict", [False, True])
def test_driver_flag(drivers: list[Any], strict: bool) -> None:
    result = CliRunner().invoke(main, ["driver", "--node-id", "n", *(["--strict-attributes"] if strict else [])])
    assert result.exit_code == 0, result.output
    volume = _volume(**{"csi.cert-manager.io/issuer-name": "ca", "csi.cert-manager.io/common-name": "x"})
    typo = _volume(**volume.attributes, **{"csi.cert-manager.io/dns-name": "x"})
    (driver,) = drivers
    assert driver.validate(volume) == ()
    if strict:
        with pytest.raises(InvalidVolumeAttribute, match="dns-name"):
            driver.validate(typo)
    else:
        assert len(driver.validate(typo)) == 1


@pytest.mark.parametrize("strict", [False, True])
def test_spiffe_driver_flag(drivers: list[Any], strict: bool) -> None:
    args = ["spiffe-driver", "--node-id", "n", "--issuer-name", "ca", *(["--strict-attributes"] if strict else [])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (driver,) = drivers
    typo = _volume(**{"spiffe.csi.cert-manager.io/fsgroup": "1"})
    # Without a token the volume is refused either way; strict refuses the unknown key first, by name.
    with pytest.raises(InvalidVolume) as info:
        driver.validate(typo)
    assert isinstance(info.value, InvalidVolumeAttribute) is strict
