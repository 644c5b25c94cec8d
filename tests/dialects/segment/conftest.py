"""Virtualenvs of the real Segment-style client libraries, built once and cached by what they contain.

The libraries pin conflicting dependencies (and must not leak into the project's own environment), so each gets
its own virtualenv, made with `python -m venv` + pip on first use, under SEGMENT_CLIENT_VENVS (default
/tmp/tc-segment-clients). The directory name carries a hash of the pinned requirement and the interpreter, so a
rerun reuses it and a version change builds a new one; a build is renamed into place only once complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import worker_factory  # noqa: F401  (the real-worker fixture, for the e2e client test)

CLIENT_LIBRARIES = {
    "segment-analytics-python": "segment-analytics-python==2.4.0",
    "analytics-python": "analytics-python==1.4.post1",
    "rudder-sdk-python": "rudder-sdk-python==2.1.9",
}
SEND_ALL = Path(__file__).parent / "clients" / "send_all.py"


def _venv_python(library: str) -> Path:
    requirement = CLIENT_LIBRARIES[library]
    root = Path(os.environ.get("SEGMENT_CLIENT_VENVS", "/tmp/tc-segment-clients"))
    digest = hashlib.sha256(f"{requirement}|{sys.version}".encode()).hexdigest()[:12]
    target = root / f"{library}-{digest}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".{target.name}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
    pip = subprocess.run(
        [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"could not install {requirement} (PyPI is needed once):\n{pip.stdout}\n{pip.stderr}")
    # Moved into place only once complete. The interpreter finds its site-packages relative to itself, so the move
    # is safe (only the bin/ scripts' shebangs name the old path, and they are not used: always `python -m`).
    try:
        building.rename(target)
    except OSError:  # another session finished first: use its build
        shutil.rmtree(building, ignore_errors=True)
    return python


@pytest.fixture(scope="session")
def client_python():
    """client_python(library) -> the interpreter of that library's own virtualenv (built on first use)."""
    cache: dict[str, Path] = {}

    def get(library: str) -> Path:
        if library not in cache:
            cache[library] = _venv_python(library)
        return cache[library]

    return get


@pytest.fixture
def run_client(client_python):
    """run_client(library, host, key, mode, run_id) -> the script's JSON report; fails the test on a failure."""
    import json

    def run(library: str, host: str, key: str, mode: str, run_id: str) -> dict:
        result = subprocess.run(
            [str(client_python(library)), str(SEND_ALL), library, host, key, mode, run_id],
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0, f"{library} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        assert lines, f"{library} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        return json.loads(lines[-1])

    return run
