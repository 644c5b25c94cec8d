"""Virtualenvs of the real Segment-style client libraries, built once and cached by what they contain.

The libraries pin conflicting dependencies (and must not leak into the project's own environment), so each gets
its own virtualenv, made with `python -m venv` + pip on first use, under SEGMENT_CLIENT_VENVS (default
/tmp/tc-segment-clients). The directory name carries a hash of the pinned requirement and the interpreter, so a
rerun reuses it and a version change builds a new one; a build is renamed into place only once complete.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.client_venvs import client_venv
from tests.e2e.conftest import worker_factory  # noqa: F401  (the real-worker fixture, for the e2e client test)

CLIENT_LIBRARIES = {
    "segment-analytics-python": "segment-analytics-python==2.4.0",
    "analytics-python": "analytics-python==1.4.post1",
    "rudder-sdk-python": "rudder-sdk-python==2.1.9",
}
SEND_ALL = Path(__file__).parent / "clients" / "send_all.py"


def _venv_python(library: str) -> Path:
    return client_venv(
        library,
        [[CLIENT_LIBRARIES[library]]],
        root_env="SEGMENT_CLIENT_VENVS",
        default_root="/tmp/tc-segment-clients",
    )


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

    def run(library: str, host: str, key: str, mode: str, run_id: str, *extra: str) -> dict:
        result = subprocess.run(
            [str(client_python(library)), str(SEND_ALL), library, host, key, mode, run_id, *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        assert result.returncode == 0, f"{library} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        assert lines, f"{library} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        return json.loads(lines[-1])

    return run
