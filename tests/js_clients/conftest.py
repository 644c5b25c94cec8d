"""The dialects' own JavaScript libraries, installed from the npm registry with `npm ci` from the lock file here,
once per lock file (tests/npm.py: cached under JS_CLIENTS_CACHE, default /tmp/tc-js-clients, with npm's own cache
beside it so a rebuild is offline-first), then driven unmodified but for their host: the Node libraries as scripts,
the browser libraries in Debian's Chromium from a page of another origin than the API's."""

from __future__ import annotations

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
from tests.npm import node_modules_installed

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return node_modules_installed()


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
