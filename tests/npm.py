"""JavaScript packages from the npm registry, installed with `npm ci` from the lock file in tests/js_clients, once
per lock file and Node version (cached under JS_CLIENTS_CACHE, default /tmp/tc-js-clients, with npm's own cache
beside it so a rebuild is offline-first). tests/js_clients drives the dialects' client libraries from it;
tests/console injects axe-core from it into the console's pages."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PACKAGES = Path(__file__).parent / "js_clients"  # package.json and package-lock.json


def _registry_reachable() -> bool:
    try:
        return subprocess.run(["npm", "ping"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def node_modules_installed() -> Path:
    """The node_modules directory of the lock file's packages, installed on first use; skips the test where Node.js
    is missing, or where the registry is unreachable and nothing is cached yet."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("needs Node.js and npm (the machine image has them)")
    root = Path(os.environ.get("JS_CLIENTS_CACHE", "/tmp/tc-js-clients"))
    lock = (PACKAGES / "package-lock.json").read_bytes()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    target = root / f"clients-{hashlib.sha256(lock + node.encode()).hexdigest()[:12]}"
    if (target / "node_modules").is_dir():
        return target / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    for name in ("package.json", "package-lock.json"):
        shutil.copy(PACKAGES / name, building / name)
    install = subprocess.run(
        ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--cache", str(root / "npm-cache")],
        cwd=building,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        if not _registry_reachable():
            pytest.skip("the npm registry is unreachable and the packages are not cached yet")
        pytest.fail(f"npm ci failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}")
    try:
        building.rename(target)
    except OSError:  # another run finished first: use its build
        shutil.rmtree(building, ignore_errors=True)
    return target / "node_modules"
