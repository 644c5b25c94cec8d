"""schemathesis against the server's own OpenAPI schema (spec 7): every operation, a fixed seed, a bounded number
of cases; no server error, and every answer's status code, content type and body as the schema says. The server is
gunicorn as deployed (bin/run's settings) on the test database: Django's test server can leave a keep-alive client
waiting for ever after a request it answered without reading the body. The path parameters are pinned to a real
datamart, point, compartment and processing, so the cases reach the routes' logic rather than a 403 or a 404."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from apps.datamarts.services import processing_create
from tests.e2e.conftest import test_database_url as database_url_of_the_tests
from tests.factories import datamart_setup

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15")


@pytest.fixture
def gunicorn(transactional_db, _a_queue_of_the_tests_own) -> Iterator[str]:
    """gunicorn (2 workers x 4 threads, as bin/run starts it) on the test database; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_the_tests(),
        "CELERY_TASK_DEFAULT_QUEUE": _a_queue_of_the_tests_own,
        "CONN_MAX_AGE": "0",
    }
    bin_dir = Path(sys.executable).parent
    args = [str(bin_dir / "gunicorn"), "trackingconsole.wsgi", "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", "2", "--threads", "4", "--timeout", "60"]
    server = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(gunicorn, tmp_path: Path):
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis is in requirements-dev.txt (bin/test installs it)")
    setup = datamart_setup()
    processing = processing_create(datamart=setup.datamart, name="P", legal_basis="CONSENT")
    base = f"{gunicorn}/v1/datamarts/{setup.datamart.pk}"
    compartment = setup.default_compartment.pk
    profile = f"user_points/user_agent_id=vec:probe/user_profiles/compartment_id={compartment}/user_account_id=u"
    answer = requests.put(f"{base}/{profile}", json={"plan": "pro"}, headers={"Authorization": setup.key}, timeout=10)
    assert answer.status_code == 200, answer.text
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.datamart_id" = {setup.datamart.pk}\n'
        '"path.selector" = "user_agent_id=vec:probe"\n'
        f'"path.compartment_id" = {setup.default_compartment.pk}\n'
        f'"path.processing_id" = {processing.pk}\n'
    )
    report = tmp_path / "report"
    result = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{gunicorn}/v1/schema",
            "-H",
            f"Authorization: {setup.key}",
            "-c",
            CHECKS,
            "--seed",
            "42",
            "-n",
            MAX_EXAMPLES,
            # One worker: with two threads, Hypothesis' lambda descriptions call ast.parse concurrently, which
            # CPython 3.11 can fail with "AST constructor recursion depth mismatch" (a CI run lost 7 operations).
            "-w",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "schemathesis.txt").write_text(result.stdout + result.stderr)
    if report.exists():
        shutil.copytree(report, artifacts / "schemathesis-report", dirs_exist_ok=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
