"""schemathesis against the live server's own OpenAPI schema (spec 7): every operation, a fixed seed, a bounded
number of cases; no server error, and every answer's status code, content type and body as the schema says.
The path parameters are pinned to a real datamart, point, compartment and processing, so the cases reach the
routes' logic rather than stopping at a 403 or a 404."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from apps.datamarts.services import processing_create
from tests.factories import datamart_setup

pytestmark = [pytest.mark.django_db(transaction=True)]

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15")


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_server, tmp_path: Path):
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis is in requirements-dev.txt (bin/test installs it)")
    setup = datamart_setup()
    processing = processing_create(datamart=setup.datamart, name="P", legal_basis="CONSENT")
    base = f"{live_server.url}/v1/datamarts/{setup.datamart.pk}"
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
            f"{live_server.url}/v1/schema",
            "-H",
            f"Authorization: {setup.key}",
            "-c",
            CHECKS,
            "--seed",
            "42",
            "-n",
            MAX_EXAMPLES,
            "-w",
            "1",
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
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "schemathesis.txt").write_text(result.stdout + result.stderr)
    if report.exists():
        shutil.copytree(report, artifacts / "schemathesis-report", dirs_exist_ok=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
