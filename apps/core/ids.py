"""Random ids in bulk. Pure: no Django import."""

from __future__ import annotations

import os


def uuid4_texts(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text, from one read of the system's random source, where
    `str(uuid.uuid4())` reads it once per id and builds a UUID object (a batch of 100 messages without messageId
    needs 100: together they were a twentieth of the batch route)."""
    data = bytearray(os.urandom(16 * count))
    data[6::16] = bytes(byte & 0x0F | 0x40 for byte in data[6::16])  # version 4
    data[8::16] = bytes(byte & 0x3F | 0x80 for byte in data[8::16])  # RFC 4122 variant
    text = data.hex()
    hexes = (text[start : start + 32] for start in range(0, 32 * count, 32))
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]
