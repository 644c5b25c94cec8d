"""The configuration model, its command line (spec 1.8) and its reads."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from apps.datamarts.models import ApiKey, Compartment
from apps.datamarts.services import api_key_hash

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_four_commands_print_json_and_the_key_works(api):
    datamart = run("create_datamart", "--name", "Shop")
    assert set(datamart) == {"datamart_id", "default_compartment_id"}
    d = datamart["datamart_id"]
    assert d.isdigit()
    compartment = run("create_compartment", "--datamart", d, "--name", "CRM")
    processing = run("create_processing", "--datamart", d, "--name", "Ads", "--legal-basis", "LEGITIMATE_INTEREST")
    key = run("create_api_key", "--datamart", d, "--name", "app", "--compartment", compartment["compartment_id"])
    assert set(key) == {"key", "key_id"}
    stored = ApiKey.objects.get(pk=key["key_id"])
    assert stored.key_hash == api_key_hash(key["key"])
    assert key["key"] not in json.dumps(list(ApiKey.objects.values()), default=str)  # only the hash is stored
    assert stored.compartment_id == int(compartment["compartment_id"])

    status, body = api("get", f"/v1/datamarts/{d}", key=key["key"])
    assert status == 200
    assert body["data"]["default_compartment_id"] == datamart["default_compartment_id"]
    status, body = api("get", f"/v1/datamarts/{d}/compartments", key=key["key"])
    assert [c["compartment_id"] for c in body["data"]] == [
        datamart["default_compartment_id"],
        compartment["compartment_id"],
    ]
    assert (body["count"], body["total"], body["first_result"], body["max_results"]) == (2, 2, 0, 100)
    status, body = api("get", f"/v1/datamarts/{d}/processings?max_results=1", key=key["key"])
    assert body["data"] == [
        {
            "processing_id": processing["processing_id"],
            "datamart_id": d,
            "name": "Ads",
            "legal_basis": "LEGITIMATE_INTEREST",
            "consent_categories": [],
            "gpc_opt_out": False,
        }
    ]
    # Consent signals (spec 6): the categories that decide a processing, and Global Privacy Control.
    mapped = run(
        "create_processing",
        "--datamart",
        d,
        "--name",
        "Analytics",
        "--consent-category",
        "Analytics",
        "--consent-category",
        "C0002",
        "--consent-category",
        " analytics ",
        "--gpc-opt-out",
    )
    status, body = api("get", f"/v1/datamarts/{d}/processings", key=key["key"])
    [shown] = [p for p in body["data"] if p["processing_id"] == mapped["processing_id"]]
    assert (shown["consent_categories"], shown["gpc_opt_out"]) == (["Analytics", "C0002"], True)


def test_command_errors():
    with pytest.raises(CommandError, match="no datamart"):
        run("create_compartment", "--datamart", "999999", "--name", "x")
    d = run("create_datamart", "--name", "Shop")["datamart_id"]
    with pytest.raises(CommandError, match="scopes"):
        run("create_api_key", "--datamart", d, "--name", "k", "--scopes", "admin")
    with pytest.raises(CommandError, match="no compartment"):
        run("create_api_key", "--datamart", d, "--name", "k", "--compartment", "999999")


def test_exactly_one_default_compartment_is_held_by_the_database():
    d = run("create_datamart", "--name", "Shop")["datamart_id"]
    with pytest.raises(IntegrityError):
        Compartment.objects.create(datamart_id=d, name="second default", is_default=True)


def test_reads_need_the_read_scope_and_the_right_datamart(api):
    d = run("create_datamart", "--name", "Shop")["datamart_id"]
    ingest_only = run("create_api_key", "--datamart", d, "--name", "k", "--scopes", "ingest")["key"]
    status, body = api("get", f"/v1/datamarts/{d}", key=ingest_only)
    assert (status, body["error_code"]) == (403, "FORBIDDEN")
    other = run("create_datamart", "--name", "Other")["datamart_id"]
    other_key = run("create_api_key", "--datamart", other, "--name", "k")["key"]
    status, body = api("get", f"/v1/datamarts/{d}/processings", key=other_key)
    assert status == 403
    status, body = api(
        "get",
        f"/v1/datamarts/{d}/processings?max_results=5000",
        key=run("create_api_key", "--datamart", d, "--name", "r")["key"],
    )
    assert (status, body["error_code"]) == (400, "VALIDATION_ERROR")


def test_user_point_selectors_on_nothing_are_404(setup, api):
    base = f"/v1/datamarts/{setup.datamart.pk}/user_points"
    for selector in (
        "user_agent_id=nobody",
        "email_hash=none",
        "user_account_id=ghost",
        "00000000-0000-0000-0000-000000000000",
    ):
        status, body = api("get", f"{base}/{selector}", key=setup.key)
        assert (status, body["error_code"]) == (404, "RESOURCE_NOT_FOUND"), selector
    status, body = api("get", f"{base}/not-a-selector", key=setup.key)
    assert (status, body["error_code"]) == (400, "VALIDATION_ERROR")
