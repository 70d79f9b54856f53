"""The doctor's report: one typed line per check, and how it is printed. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A check's outcome; the value is the mark its line starts with."""

    OK = "✓"
    WARN = "⚠"
    SKIP = "–"
    FAIL = "✗"

    @property
    def shows_fix(self) -> bool:
        """Every outcome but a pass is followed by its fix, when the check names one."""
        return self is not Status.OK


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, what was found, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def render(check: Check) -> str:
    """`✓ name — detail`, with `→ fix` after failures and warnings."""
    line = f"{check.status.value} {check.name} — {check.detail}"
    return line + (f" → {check.fix}" if check.fix and check.status.shows_fix else "")
