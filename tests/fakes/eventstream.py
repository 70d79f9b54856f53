"""Encoder for AWS event-stream frames (``application/vnd.amazon.eventstream``).

Frame layout, all integers big-endian::

    total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32

Each header is ``name_len u8 | name | type u8 | value``; only type 7 (utf-8 string,
``value_len u16 | value``) is needed for Bedrock. ``message_crc`` covers every byte
before it, prelude CRC included.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["encode_event", "encode_exception", "encode_headers", "encode_message"]

_HEADER_TYPE_STRING = 7
# Prelude (12 bytes) plus trailing message CRC (4 bytes).
_FRAME_OVERHEAD = 16
# botocore's EventStreamBuffer rejects frames beyond these sizes, so fail early here.
_MAX_HEADERS_LENGTH = 128 * 1024
_MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024


def _crc32(data: bytes, start: int = 0) -> int:
    # Mask so the value is the same unsigned int on every platform and Python version.
    return zlib.crc32(data, start) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """Encode string-valued headers in insertion order."""
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if not 0 < len(raw_name) <= 0xFF:
            raise ValueError(f"header name must be 1..255 bytes: {name!r}")
        if len(raw_value) > 0xFFFF:
            raise ValueError(f"header value too long for {name!r}")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _HEADER_TYPE_STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """Encode one complete event-stream frame."""
    raw_headers = encode_headers(headers)
    if len(raw_headers) > _MAX_HEADERS_LENGTH:
        raise ValueError("headers exceed the 128 KiB event-stream limit")
    if len(payload) > _MAX_PAYLOAD_LENGTH:
        raise ValueError("payload exceeds the 24 MiB event-stream limit")
    total_length = _FRAME_OVERHEAD + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total_length, len(raw_headers))
    prelude += struct.pack(">I", _crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", _crc32(body))


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """Encode a JSON ``event`` frame, e.g. ``encode_event("chunk", {"bytes": ...})``."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, _json(payload))


def encode_exception(exception_type: str, message: str) -> bytes:
    """Encode a modeled ``exception`` frame, e.g. ``encode_exception("throttlingException", ...)``.

    ``exception_type`` is the camelCase member name in the model's ResponseStream union,
    which is what botocore reports as the error code.
    """
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, _json({"message": message}))
