"""Pure: Markdown (GFM) tables in an agent's answer — found, and rendered the ways Slack can.

Slack's mrkdwn and its `markdown` block show a Markdown table as raw pipes. A `table` block
renders it (at most 100 rows of 20 cells, one table per message); anything larger, or a second
table, becomes an aligned code block, which every Slack surface shows in a fixed-width font.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from bot.limits import TABLE_CELL_MAX_CHARS, TABLE_MAX_COLUMNS, TABLE_MAX_ROWS

_SEPARATOR_CELL = re.compile(r"^\s*:?-{1,}:?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

Align = Literal["left", "center", "right"]


@dataclass(frozen=True, slots=True)
class Table:
    """One Markdown table: its header, body rows and column alignment."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Align, ...]

    @property
    def fits_block(self) -> bool:
        return len(self.rows) + 1 <= TABLE_MAX_ROWS and len(self.header) <= TABLE_MAX_COLUMNS


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the answer: plain Markdown (`table` None) or one table (`text` its source)."""

    text: str
    table: Table | None = None


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def _is_row(line: str) -> bool:
    return "|" in line and bool(line.strip())


def _alignment(cell: str) -> Align:
    cell = cell.strip()
    if cell.startswith(":") and cell.endswith(":"):
        return "center"
    return "right" if cell.endswith(":") else "left"


def _table_at(lines: list[str], start: int) -> tuple[Table, int] | None:
    """The table whose header is lines[start], and the index after it; None if there is none."""
    if start + 1 >= len(lines) or not _is_row(lines[start]):
        return None
    header, separator = _cells(lines[start]), _cells(lines[start + 1])
    if len(header) != len(separator) or not all(_SEPARATOR_CELL.match(c) for c in separator):
        return None
    end = start + 2
    rows: list[tuple[str, ...]] = []
    while end < len(lines) and _is_row(lines[end]):
        cells = _cells(lines[end])[: len(header)]
        rows.append(tuple(cells + [""] * (len(header) - len(cells))))
        end += 1
    return Table(tuple(header), tuple(rows), tuple(_alignment(c) for c in separator)), end


def segments(markdown: str) -> list[Segment]:
    """Split an answer into Markdown runs and tables, in order; joined, the texts are `markdown`."""
    lines = markdown.splitlines(keepends=True)
    out: list[Segment] = []
    plain: list[str] = []
    index, fenced = 0, False
    while index < len(lines):
        if _FENCE.match(lines[index]):
            fenced = not fenced
        found = None if fenced else _table_at(lines, index)
        if found is None:
            plain.append(lines[index])
            index += 1
            continue
        table, end = found
        if plain:
            out.append(Segment("".join(plain)))
            plain = []
        out.append(Segment("".join(lines[index:end]), table))
        index = end
    if plain:
        out.append(Segment("".join(plain)))
    return out


def has_table(markdown: str) -> bool:
    return any(segment.table is not None for segment in segments(markdown))


def as_code(table: Table) -> str:
    """The table as an aligned code block (columns padded to their widest cell)."""
    grid = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in grid) for i in range(len(table.header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [_pad(cell, widths[i], table.align[i]) for i, cell in enumerate(row)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join(["```", line(table.header), rule, *(line(row) for row in table.rows), "```"])


def _pad(cell: str, width: int, align: Align) -> str:
    if align == "right":
        return cell.rjust(width)
    return cell.center(width) if align == "center" else cell.ljust(width)


def tables_as_code(markdown: str) -> str:
    """Every table in `markdown` replaced by its aligned code block (for mrkdwn `text`)."""
    parts: list[str] = []
    for segment in segments(markdown):
        if segment.table is None:
            parts.append(segment.text)
        else:
            ending = "\n" if segment.text.endswith("\n") else ""
            parts.append(as_code(segment.table) + ending)
    return "".join(parts)


def table_block(table: Table) -> dict[str, Any]:
    """A Block Kit `table` block: the header row first, raw_text cells, column alignment."""

    def cell(text: str) -> dict[str, str]:
        # Whether Slack takes an empty raw_text cell is undocumented; a dash reads as "nothing".
        return {"type": "raw_text", "text": text[:TABLE_CELL_MAX_CHARS] or "–"}

    rows = [[cell(text) for text in row] for row in (table.header, *table.rows)]
    settings = [{"align": align} for align in table.align]
    return {"type": "table", "rows": rows, "column_settings": settings}
