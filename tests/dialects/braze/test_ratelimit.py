"""The rate limit is counted in the shared Django cache, so separate processes share one count per key."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from apps.dialects.braze.ratelimit import bucket_of, rate_limit_clear, rate_limit_hit
from tests.e2e import conftest as e2e

# Another process with this process's settings: the same database and, whatever the environment says, the same
# cache configuration (the settings choose the cache from the environment, and the tests' may differ).
OTHER_PROCESS = """
import json, os, sys
import django
from django.conf import settings
settings.CACHES = json.loads(os.environ["TEST_CACHES"])
django.setup()
from apps.dialects.braze.ratelimit import rate_limit_hit
hits = [rate_limit_hit(scope="braze", bucket=sys.argv[1], limit=5) for _ in range(int(sys.argv[2]))]
print(json.dumps([[h.remaining, h.reset_epoch_s, h.exceeded] for h in hits]))
"""


@pytest.mark.django_db(transaction=True)
def test_another_process_continues_the_same_count():
    bucket = bucket_of("test", os.urandom(8).hex())
    try:
        mine = [rate_limit_hit(scope="braze", bucket=bucket, limit=5) for _ in range(2)]
        assert [h.remaining for h in mine] == [4, 3]
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="trackingconsole.settings",
            DATABASE_URL=e2e.test_database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            TEST_CACHES=json.dumps(settings.CACHES),
        )
        result = subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS, bucket, "4"],
            cwd=e2e.ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
        assert [remaining for remaining, _, _ in theirs] == [2, 1, 0, 0]
        assert [exceeded for _, _, exceeded in theirs] == [False, False, False, True]
        assert {reset for _, reset, _ in theirs} == {mine[0].reset_epoch_s}
        assert rate_limit_hit(scope="braze", bucket=bucket, limit=5).exceeded
    finally:
        rate_limit_clear(scope="braze", bucket=bucket)


def test_a_new_window_starts_after_the_previous_one_ends(db):
    bucket = bucket_of("test", os.urandom(8).hex())
    try:
        first = rate_limit_hit(scope="braze", bucket=bucket, limit=1)
        assert not first.exceeded
        assert rate_limit_hit(scope="braze", bucket=bucket, limit=1).exceeded
        # What the cache does when the window's key expires, without waiting a minute for it.
        rate_limit_clear(scope="braze", bucket=bucket)
        again = rate_limit_hit(scope="braze", bucket=bucket, limit=1)
        assert not again.exceeded
        assert again.remaining == 0
    finally:
        rate_limit_clear(scope="braze", bucket=bucket)
