"""The built wheel is a working worker (issue 10 #26): installed in a fresh virtual environment, away from this
source tree, `sealer-fsm plan check sealer` finds the shipped plans (it found none: they were not package data).

To stay quick, the wheel is built without build isolation from a copy of the source tree, reusing the C
extensions this checkout already built, and installed without dependencies into a venv that borrows this
environment's installed packages (by path, so this checkout's own editable install does not come along).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _copy_source(destination: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("sealer_fsm", "plans"):
        shutil.copytree(REPO / name, destination / name, symlinks=True, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    # The extensions this checkout built, where build_ext looks first: newer than their sources, not rebuilt.
    built = destination / "build" / f"lib.{sysconfig.get_platform()}-{sys.implementation.cache_tag}"
    for extension in (REPO / "sealer_fsm" / "proofs").glob("*.so"):
        (built / "sealer_fsm" / "proofs").mkdir(parents=True, exist_ok=True)
        shutil.copy(extension, built / "sealer_fsm" / "proofs" / extension.name)
        (destination / "sealer_fsm" / "proofs" / extension.name).unlink(missing_ok=True)


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.timeout(600)
def test_the_wheel_ships_the_plans_and_an_installed_worker_checks_them(tmp_path: Path) -> None:
    source = tmp_path / "source"
    _copy_source(source)
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", ".",
                 cwd=source)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (source / "dist").glob("sealer_fsm-*.whl")

    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    installed = _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
                     "--no-deps", "--no-index", wheel, cwd=tmp_path)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    (site_packages / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run(venv / "bin" / "python", "-c", "import sealer_fsm; print(sealer_fsm.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(site_packages)), "the wheel, not this checkout, must answer"
    checked = _run(venv / "bin" / "sealer-fsm", "plan", "check", "sealer", "snapup", cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sealer" in checked.stdout and "snapup" in checked.stdout
    assert sorted(path.name for path in (site_packages / "sealer_fsm" / "plans" / "shipped").iterdir()) == sorted(
        path.name for path in (REPO / "plans").glob("*.yaml")
    )
    # Typed (PEP 561), with the stubs of the C extensions.
    assert (site_packages / "sealer_fsm" / "py.typed").is_file()
    assert (site_packages / "sealer_fsm" / "proofs" / "_native.pyi").is_file()
