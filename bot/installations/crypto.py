"""Installations at rest: every record is sealed with Fernet (AES-128-CBC + HMAC-SHA256).

INSTALLATION_ENCRYPTION_KEY holds one or more Fernet keys, comma-separated. The first one seals
new records; all of them open old ones (MultiFernet), so a key is rotated by putting a new key
first, restarting, running `python -m bot installations rotate-key` (re-seals every record with
the new key), and finally dropping the old key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "Sealer", "new_key", "parse_keys"]


def parse_keys(raw: str) -> tuple[str, ...]:
    """The keys in `raw`, each checked; ValueError says which one is malformed (never its value)."""
    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not keys:
        raise ValueError("must hold at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with python -m bot installations new-key)"
            ) from None
    return keys


def new_key() -> str:
    return Fernet.generate_key().decode()


class Sealer:
    """Seals and opens installation records with the configured keys (first one seals)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def open(self, sealed: bytes) -> bytes:
        """Raises InvalidToken when no configured key opens it (or it was tampered with)."""
        return self._fernet.decrypt(sealed)

    def reseal(self, sealed: bytes) -> bytes:
        """The same record sealed with the first key (for key rotation)."""
        return self._fernet.rotate(sealed)
