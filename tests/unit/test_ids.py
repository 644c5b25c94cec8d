"""apps/core/ids.py: ids as random and as well-formed as uuid.uuid4()'s."""

from __future__ import annotations

import uuid

from apps.core.ids import uuid4_texts


def test_uuid4_texts_are_distinct_version_4_uuids_in_canonical_form():
    texts = uuid4_texts(2000)
    assert len(texts) == len(set(texts)) == 2000
    for text in texts:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert uuid4_texts(0) == []
