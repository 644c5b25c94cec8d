"""The real `braze-client` library (2.3.x) in a virtualenv of its own, built once and cached by a hash.

braze-client 2.3.3 pins tenacity<6, which does not import on Python 3.11, so it is installed without its
dependencies next to a current tenacity and requests. Its own virtualenv keeps it out of the project's. It is
built and cached by tests/client_venvs.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.client_venvs import client_venv
from tests.e2e.conftest import worker_factory  # noqa: F401  (the real-worker fixture, for the e2e client test)

BRAZE_CLIENT = "braze-client==2.3.3"
ITS_DEPENDENCIES = ["tenacity==9.2.1", "requests==2.32.5"]
SCRIPT = Path(__file__).parent / "clients" / "braze_track.py"


def _venv_python() -> Path:
    return client_venv(
        "braze-client",
        [ITS_DEPENDENCIES, ["--no-deps", BRAZE_CLIENT]],
        root_env="BRAZE_CLIENT_VENVS",
        default_root="/tmp/tc-braze-client",
    )


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
