"""Random ids in bulk. Pure: no Django import."""

from __future__ import annotations

import os
import uuid


def uuid4s(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs from one read of the system's random source, where `uuid.uuid4()` reads it
    once per id (a batch of 100 messages needs 200 ids: a system call each was a sixth of the batch route)."""
    data = os.urandom(16 * count)
    return [uuid.UUID(bytes=data[start : start + 16], version=4) for start in range(0, 16 * count, 16)]
