"""The real `braze-client` library (2.3.x) in a virtualenv of its own, built once and cached by a hash.

braze-client 2.3.3 pins tenacity<6, which does not import on Python 3.11, so it is installed without its
dependencies next to a current tenacity and requests. Its own virtualenv keeps it out of the project's. The
directory name carries a hash of the requirements and the interpreter, so reruns reuse it and a change of pin
builds a new one; a build is renamed into place only once complete (only bin/python is used afterwards).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import worker_factory  # noqa: F401  (the real-worker fixture, for the e2e client test)

BRAZE_CLIENT = "braze-client==2.3.3"
ITS_DEPENDENCIES = ["tenacity==9.2.1", "requests==2.32.5"]
SCRIPT = Path(__file__).parent / "clients" / "braze_track.py"


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _venv_python() -> Path:
    root = Path(os.environ.get("BRAZE_CLIENT_VENVS", "/tmp/tc-braze-client"))
    digest = hashlib.sha256(f"{BRAZE_CLIENT}|{ITS_DEPENDENCIES}|{sys.version}".encode()).hexdigest()[:12]
    target = root / f"venv-{digest}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".venv-{digest}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
    try:
        _pip(building / "bin" / "python", *ITS_DEPENDENCIES)
        _pip(building / "bin" / "python", "--no-deps", BRAZE_CLIENT)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"could not build the braze-client virtualenv (PyPI is needed once): {exc}")
    try:
        building.rename(target)
    except OSError:  # another run finished first: use its build
        shutil.rmtree(building, ignore_errors=True)
    return python


@pytest.fixture(scope="session")
def braze_python() -> Path:
    return _venv_python()


@pytest.fixture
def braze_client(braze_python):
    """braze_client(base_url, calls) -> one result per call, as the library returned or raised it."""

    def run(base: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = subprocess.run(
            [str(braze_python), str(SCRIPT)],
            input=json.dumps({"base": base, "calls": calls}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"braze-client script failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run
