"""Virtualenvs for the real client libraries the dialect tests drive (Segment-style, Braze).

Their pins conflict with each other and with the project, so each gets its own virtualenv, made with
`python -m venv` + pip on first use. The directory name carries a hash of what is installed and of the
interpreter, so a rerun reuses it and a pin change builds a new one; a build is renamed into place only once
complete. The interpreter finds its site-packages relative to itself, so the move is safe (only the bin/ scripts'
shebangs name the old path, and they are not used: the tests always run `python script`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def client_venv(name: str, installs: list[list[str]], *, root_env: str, default_root: str) -> Path:
    """The interpreter of a virtualenv holding `installs` (each a list of pip install arguments, run in order),
    under $root_env (default `default_root`); built on first use, which needs PyPI."""
    root = Path(os.environ.get(root_env, default_root))
    digest = hashlib.sha256(f"{installs}|{sys.version}".encode()).hexdigest()[:12]
    target = root / f"{name}-{digest}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    building = root / f".{target.name}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True)
    for args in installs:
        pip = subprocess.run(
            [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            pytest.fail(f"could not install {' '.join(args)} (PyPI is needed once):\n{pip.stdout}\n{pip.stderr}")
    try:
        building.rename(target)
    except OSError:  # another session finished first: use its build
        shutil.rmtree(building, ignore_errors=True)
    return python
