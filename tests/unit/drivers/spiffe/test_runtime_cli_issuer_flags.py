"""`certcsi spiffe-driver` refuses to start when no issuer could ever be configured, naming the flags."""

from __future__ import annotations

from click.testing import CliRunner

from certcsi.cli import main


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["spiffe-driver", "--node-id", "node-1", *args])
    return result.exit_code, result.output


def test_neither_issuer_flag_nor_configmap() -> None:
    code, output = _run("--issuer-name", "")
    assert code == 2
    assert output.startswith("Error: ") and output.count("\n") == 1
    assert "spiffe-driver: either --issuer-name or --runtime-issuance-config-map-name must be set" in output


def test_a_configmap_without_namespace() -> None:
    code, output = _run("--runtime-issuance-config-map-name", "spiffe-issuer")
    assert code == 2
    assert "--runtime-issuance-config-map-namespace must be set" in output


def test_an_issuer_flag_kubernetes_could_not_name_is_refused_naming_the_flag() -> None:
    for flag, value in (("--issuer-name", "CN=x"), ("--issuer-kind", "Cluster Issuer"), ("--issuer-group", "A.io")):
        args = ["--issuer-name", "ca", flag, value] if flag != "--issuer-name" else [flag, value]
        code, output = _run(*args)
        assert code == 2, output
        assert output.startswith("Error: ") and f"spiffe-driver: {flag}: " in output
