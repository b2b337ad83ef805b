"""`certcsi inspect` on a data root written by the engine, and on missing or corrupt ones."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

from click.testing import CliRunner
from observability_support import Engine, context, settle
from publish_requests import Req

from certcsi.cli import main
from certcsi.inspecting import run, scan
from certcsi.volumes.status import STATUS_FILE
from certcsi.volumes.store import Metadata


def inspect(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["inspect", "--data-root", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


async def test_json_shows_pod_identity_validity_renewal_and_request(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    code, out, _ = inspect(engine.root / "data", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["volumeID"] == "vol-1"
    assert (row["namespace"], row["pod"], row["driver"]) == ("team", "app-0", "csi.cert-manager.io")
    assert row["identity"] == "app-0.team.svc" and row["dnsNames"] == ["app-0.team.svc"]
    view = engine.manager.snapshot()[0]
    assert row["notAfter"] == view.status.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
    assert row["nextRenewal"] is not None
    assert row["request"] == "req-0" and row["issuer"]["kind"] == "ClusterIssuer"
    assert row["lastError"] is None and row["problems"] == []


async def test_last_error_of_a_failing_renewal_is_shown(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    engine.issuance.deny = True
    engine.clock.advance(3600)
    await settle()
    code, out, _ = inspect(engine.root / "data")
    assert code == 0
    header, line = out.splitlines()
    assert header.split() == ["POD", "VOLUME", "STATE", "IDENTITY", "NOT", "AFTER", "NEXT", "RENEWAL", "LAST", "ERROR"]
    assert re.split(r"\s{2,}", line)[:4] == ["team/app-0", "vol-1", "Renewal failing", "app-0.team.svc"]
    assert "denied by the approval plugin: not on my watch" in line


async def test_pod_filter_shows_details_and_misses_exit_non_zero(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target("a"), context()))
    other = {**context(), "csi.storage.k8s.io/pod.name": "app-1"}
    await engine.manager.publish(Req("vol-2", engine.target("b"), other))
    code, out, _ = inspect(engine.root / "data", "--pod", "team/app-1")
    assert code == 0
    assert "Volume:        vol-2" in out and "vol-1" not in out
    assert "DNS names:     app-1.team.svc" in out
    code, _, err = inspect(engine.root / "data", "--pod", "team/nobody")
    assert code == 1 and "no volume of pod team/nobody" in err


async def test_the_certificate_file_name_comes_from_status_json(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context(certificate_file="chain.pem")))
    (row,) = scan(engine.root / "data")
    assert row.certificate_file == "chain.pem" and row.certificate is not None


async def test_a_volume_from_the_go_driver_without_status_uses_the_attribute_or_default(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    (engine.store.volume_dir("vol-1") / STATUS_FILE).unlink()
    (row,) = scan(engine.root / "data")
    assert row.certificate_file == "tls.crt" and row.certificate is not None and row.status is None


async def test_corrupt_volume_files_are_problems_not_tracebacks(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target("a"), context()))
    await engine.manager.publish(Req("vol-2", engine.target("b"), context()))
    await engine.manager.publish(Req("vol-3", engine.target("c"), context()))
    (engine.store.volume_dir("vol-1") / "metadata.json").write_text("{torn")
    (engine.store.volume_dir("vol-2") / STATUS_FILE).write_text('{"failures": "many"}')
    data = engine.store.data_dir("vol-3")
    os.chmod(data, 0o750)
    target = os.path.join(data, os.readlink(data / "tls.crt"))
    os.chmod(os.path.dirname(target), 0o750)
    os.chmod(target, 0o640)
    Path(target).write_text("not a certificate")
    (engine.root / "data" / "inmemfs" / "stray-file").write_text("x")
    code, out, _ = inspect(engine.root / "data", "--json")
    assert code == 1
    problems = {row["volumeID"]: row["problems"] for row in json.loads(out)}
    assert problems["vol-1"][0].startswith("unreadable metadata.json")
    assert problems["vol-2"] == ["unreadable status.json: status failures: must be a non-negative integer"]
    assert problems["vol-3"][0].startswith("unreadable certificate tls.crt")
    assert problems["stray-file"] == ["not a volume directory"]


def test_missing_data_root(tmp_path: Path) -> None:
    code, out, err = inspect(tmp_path / "nowhere")
    assert code == 1 and out == ""
    expected = f"data root {tmp_path / 'nowhere'} does not exist (set --data-root to the driver's --data-root)"
    assert err.strip() == f"certcsi inspect: {expected}"


def test_data_root_without_inmemfs(tmp_path: Path) -> None:
    code, _, err = inspect(tmp_path)
    assert code == 1 and "is not a certcsi data root" in err and "Traceback" not in err


def test_data_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "root").write_text("")
    code, _, err = inspect(tmp_path / "root")
    assert code == 1 and "is not a directory" in err


def test_inmemfs_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "inmemfs").write_text("")
    code, _, err = inspect(tmp_path)
    assert code == 1 and "missing or not a directory" in err


def test_empty_data_root_lists_nothing(tmp_path: Path) -> None:
    (tmp_path / "inmemfs").mkdir()
    out, err = io.StringIO(), io.StringIO()
    assert run(data_root=tmp_path, as_json=False, pod=None, out=out, err=err) == 0
    assert out.getvalue().startswith("no volumes in")
    out = io.StringIO()
    assert run(data_root=tmp_path, as_json=True, pod=None, out=out, err=err) == 0
    assert json.loads(out.getvalue()) == []


async def test_a_volume_waiting_for_its_first_certificate_is_not_a_problem(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    shutil.rmtree(engine.store.data_dir("vol-1"))
    meta = engine.store.read_metadata("vol-1")
    assert meta is not None
    engine.store.write_metadata(
        Metadata(volume_id="vol-1", target_path=meta.target_path, volume_context=meta.volume_context)
    )
    (engine.store.volume_dir("vol-1") / STATUS_FILE).unlink()
    (row,) = scan(engine.root / "data")
    assert row.certificate is None and row.problems == () and row.next_renewal is None


def test_the_driver_column_comes_from_the_volume_s_records_before_its_attributes(tmp_path: Path) -> None:
    """In a shared data root certcsi's driver.json, else kubelet's vol_data.json, names the driver."""
    inmemfs = tmp_path / "inmemfs"
    pod = {"csi.storage.k8s.io/pod.namespace": "team", "csi.storage.k8s.io/pod.name": "p"}
    # A SPIFFE volume carrying a csi.cert-manager.io key (passed on as an annotation): the guess is wrong.
    shaped_like_csi = {**pod, "csi.cert-manager.io/issuer-name": "x"}
    target = tmp_path / "kubelet/pods/u/volumes/kubernetes.io~csi/spiffe/mount"
    for name, record, vol_data in (
        ("recorded", "spiffe.csi.cert-manager.io", None),
        ("kubelet", None, "spiffe.csi.cert-manager.io"),
        ("guessed", None, None),
    ):
        volume = inmemfs / name
        volume.mkdir(parents=True)
        path = str(target).replace("/u/", f"/{name}/")
        (volume / "metadata.json").write_text(
            Metadata(volume_id=name, target_path=path, volume_context=shaped_like_csi).to_json()
        )
        if record:
            (volume / "driver.json").write_text(json.dumps({"driverName": record}))
        if vol_data:
            Path(path).parent.mkdir(parents=True)
            vol = {"volumeHandle": name, "driverName": vol_data}
            (Path(path).parent / "vol_data.json").write_text(json.dumps(vol))
    drivers = {report.volume_id: report.driver for report in scan(tmp_path)}
    assert drivers == {
        "recorded": "spiffe.csi.cert-manager.io",
        "kubelet": "spiffe.csi.cert-manager.io",
        "guessed": "csi.cert-manager.io",
    }
