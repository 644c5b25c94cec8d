"""ISO 8601 parsing of the Braze and Thrivestack dialects: pure, no database."""

from __future__ import annotations

import pytest

from apps.dialects.braze.times import NotATime, iso8601_to_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2013-07-16T19:20:30+1:00", 1373998830000),  # the Braze seed's one-digit hour offset
        ("2013-07-16T19:20:30+01:00", 1373998830000),
        ("2013-07-16T19:20:30+0100", 1373998830000),
        ("2013-07-16T19:20:30+01", 1373998830000),
        ("2013-07-16T18:20:30Z", 1373998830000),
        ("2013-07-16T18:20:30", 1373998830000),  # no offset: UTC
        ("2013-07-16T13:50:30.25-4:30", 1373998830250),
        ("2020-11-23T22:28:55.111Z", 1606170535111),  # integer milliseconds, no float rounding
        ("2013-07-16", 1373932800000),
    ],
)
def test_iso8601(text, ms):
    assert iso8601_to_ms(text) == ms


@pytest.mark.parametrize(
    "value", ["20-11-23T22:28:55.111Z", "yesterday", "", "2013-07-16T19:20:30+25:00", 1373998830000, None]
)
def test_not_a_time(value):
    with pytest.raises(NotATime):
        iso8601_to_ms(value)
