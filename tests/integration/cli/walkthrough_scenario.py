"""Runs README's walkthrough, command by command, as a user would; writes what each printed to a report.

    python walkthrough_scenario.py README.md report.json      (as root, in a fresh network namespace)
    python walkthrough_scenario.py blocks.json report.json    (the same for blocks given as JSON lists)

The commands are read from README's blocks marked `<!-- walkthrough: ... -->`: the first block's one
command (`certcsi sandbox up ...`) runs in the background like a first terminal, the others one by
one like a second terminal, from a working directory where `examples/` and `.venv/` are this
repository's. `sudo` is dropped (we are root); `export` lines set the environment of what follows.
A command listed in UNTIL is re-run until its output shows the given text, as a user re-runs it to
see what the cluster does in its own time (the driver creating its request a moment after the pod,
kubelet's FailedMount after the driver's timeout). Then SIGINT to `sandbox up`, as Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from netns import loopback_up

REPO = Path(__file__).resolve().parents[3]
MARKER = re.compile(r"<!-- walkthrough: (?P<name>[^>]*) -->\s*```sh\n(?P<body>.*?)```", re.S)
UNTIL = {
    "kubectl get pod my-csi-app-broken": "ContainerCreating",
    "kubectl get cr -o wide": "sandbox-ca-typo",
    "sudo .venv/bin/certcsi sandbox exec -n cert-manager ds/cert-manager-csi-driver -- certcsi inspect "
    "--data-root csi-data-dir": "my-csi-app-broken",
    "kubectl describe pod my-csi-app-broken": "FailedMount",
    "kubectl get events --field-selector reason=FailedMount": "FailedMount",
}
UNTIL_TIMEOUT = 150.0


def blocks(readme: Path) -> list[tuple[str, list[str]]]:
    """(marker name, command lines) of each walkthrough block, in order."""
    if readme.suffix == ".json":
        return [(str(index), list(lines)) for index, lines in enumerate(json.loads(readme.read_text()))]
    found = []
    for match in MARKER.finditer(readme.read_text()):
        lines = [line.strip() for line in match["body"].splitlines() if line.strip()]
        found.append((match["name"].strip(), lines))
    return found


def read_line(stream: Any, timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


def processes_in(directory: Path) -> list[str]:
    """Command lines of the processes whose working directory is under `directory` (a container's root)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(Path(proc / "cwd").readlink()).startswith(str(directory)):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def run(command: str, *, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", command], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    return {
        "command": command,
        "rc": done.returncode,
        "out": done.stdout,
        "err": done.stderr,
        "seconds": round(time.monotonic() - started, 1),
    }


def walk(source: Path, directory: Path) -> dict[str, Any]:
    """Run this script on `source` (README or blocks JSON) in a mount and network namespace of its own;
    the report, after asserting that the run itself went through."""
    report = directory / "report.json"
    paths = (Path(__file__).resolve().parent, REPO / "tests" / "support")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--net", sys.executable, __file__, str(source), str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    assert done.returncode == 0 and "error" not in result, (done.stderr[-3000:], result.get("error"), result)
    return result


def main(readme: Path, report_path: Path) -> None:
    loopback_up()
    workdir = Path(tempfile.mkdtemp(prefix="walk-", dir="/tmp"))
    for name in ("examples", ".venv"):
        (workdir / name).symlink_to(REPO / name)
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "PWD": str(workdir)}
    report: dict[str, Any] = {"blocks": [], "commands": []}
    (_, (up_command,)), *rest = blocks(readme)
    report["blocks"] = [[up_command], *[lines for _, lines in rest]]
    up = subprocess.Popen(
        ["bash", "-c", "exec " + up_command.removeprefix("sudo ")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        banner = [read_line(up.stdout, 60)]
        while banner[-1] and "(Ctrl-C to stop)" not in banner[-1]:
            banner.append(read_line(up.stdout, 10))
        report["up_banner"] = "".join(banner)
        for _, lines in rest:
            for line in lines:
                command = line.removeprefix("sudo ")
                if command.startswith("export "):
                    key, _, value = command.removeprefix("export ").partition("=")
                    env[key] = value.replace("$PWD", str(workdir))
                    report["commands"].append({"command": line, "rc": 0, "out": "", "err": "", "seconds": 0})
                    continue
                result = run(command, env=env, cwd=workdir)
                deadline = time.monotonic() + UNTIL_TIMEOUT
                while line in UNTIL and UNTIL[line] not in result["out"] and time.monotonic() < deadline:
                    time.sleep(1)
                    result = run(command, env=env, cwd=workdir)
                report["commands"].append({**result, "command": line})
    except BaseException as err:
        report["error"] = repr(err)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            report["up_rc"] = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            report["up_rc"] = "killed after 60s"
        report["up_stderr"] = (up.stderr.read() if up.stderr else "")[-6000:]
        state = re.search(r"node files under (\S+)/node", report.get("up_banner", ""))
        report["state_dir"] = state[1] if state else None
        report["state_dir_left"] = bool(state and Path(state[1]).exists())
        report["processes_left"] = processes_in(Path(state[1])) if state else []
        report_path.write_text(json.dumps(report, indent=1))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
