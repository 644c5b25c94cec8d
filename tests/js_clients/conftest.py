"""The dialects' own JavaScript libraries, installed from the npm registry with `npm ci` from the lock file here,
once per lock file (cached under JS_CLIENTS_CACHE, default /tmp/tc-js-clients, with npm's own cache beside it so a
rebuild is offline-first), then driven unmodified but for their host: the Node libraries as scripts, the browser
libraries in Debian's Chromium from a page of another origin than the API's."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.chromium import chromium_launched
from tests.e2e.conftest import worker_factory  # noqa: F401  (the real-worker fixture)

HERE = Path(__file__).parent


def _registry_reachable() -> bool:
    try:
        return subprocess.run(["npm", "ping"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _node_modules() -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("needs Node.js and npm (the machine image has them)")
    root = Path(os.environ.get("JS_CLIENTS_CACHE", "/tmp/tc-js-clients"))
    lock = (HERE / "package-lock.json").read_bytes()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    target = root / f"clients-{hashlib.sha256(lock + node.encode()).hexdigest()[:12]}"
    if (target / "node_modules").is_dir():
        return target / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, building / name)
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
            pytest.skip("the npm registry is unreachable and the client libraries are not cached yet")
        pytest.fail(f"npm ci failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}")
    try:
        building.rename(target)
    except OSError:  # another run finished first: use its build
        shutil.rmtree(building, ignore_errors=True)
    return target / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return _node_modules()


@pytest.fixture
def run_node(node_modules):
    """run_node(script, *args) -> the script's JSON report (its last line of output)."""

    def run(script: str, *args: str) -> dict:
        env = {**os.environ, "NODE_PATH": str(node_modules)}
        result = subprocess.run(
            ["node", str(HERE / script), *args], capture_output=True, text=True, timeout=120, env=env, check=False
        )
        assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def website(node_modules) -> Iterator[str]:
    """A web site on another origin than the API (127.0.0.1 against the live server's localhost), serving the
    pages here and the libraries' files from node_modules, as a site would serve its own copy. Yields its URL."""
    root = Path(tempfile.mkdtemp(prefix="tc-site-"))
    for page in (HERE / "pages").iterdir():
        shutil.copy(page, root / page.name)
    (root / "node_modules").symlink_to(node_modules)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_launched() as launched:
        yield launched
