"""Pure: the agent's steps as Slack shows them — `task_update` chunks, or one status line.

Slack's streams take `chunks` of type `task_update` (id, title, status pending / in_progress /
complete / error, optional `sources` of `url` elements); with `task_display_mode="plan"` on
chat.startStream they render together as one plan above the streamed text, so steps never
reorder or replace answer text. A step the agent never closed is closed when the answer ends
(complete, or error when the answer failed), so no spinner is left turning.

Update mode (chat.update) has no chunks: the newest open step is shown as one line in the
placeholder until the answer's text takes its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.events import Progress, StepStatus
from bot.limits import TASK_TITLE_LIMIT

TASK_DISPLAY_MODE = "plan"
_OPEN = frozenset({StepStatus.PENDING, StepStatus.IN_PROGRESS})
_MAX_SOURCES = 10


@dataclass(slots=True)
class Steps:
    """Every step seen so far (first-seen order) and which changes Slack has not shown yet."""

    _steps: dict[str, Progress] = field(default_factory=dict)
    _unsent: dict[str, None] = field(default_factory=dict)  # an ordered set of step ids

    def update(self, step: Progress) -> bool:
        """Record a step's new state; True when it changes what Slack should show."""
        known = self._steps.get(step.step_id)
        if known is not None and step.sources == () and known.sources:
            step = replace(step, sources=known.sources)  # a later status keeps earlier sources
        if known == step or (known is not None and known.status not in _OPEN):
            return False  # nothing new, or the step already ended: it stays ended
        self._steps[step.step_id] = step
        self._unsent[step.step_id] = None
        return True

    @property
    def pending(self) -> bool:
        return bool(self._unsent)

    def take_chunks(self) -> list[dict[str, Any]]:
        """The `task_update` chunks for every change not sent yet, in first-seen order."""
        order = list(self._steps)
        ids = sorted(self._unsent, key=order.index)
        self._unsent.clear()
        return [task_chunk(self._steps[step_id]) for step_id in ids]

    def put_back(self, chunks: list[dict[str, Any]]) -> None:
        """Slack did not take these (deferred write): send them with the next one."""
        for chunk in chunks:
            self._unsent[str(chunk["id"])] = None

    def close_open(self, *, failed: bool) -> None:
        """The answer ended: every step still open is marked complete (or error)."""
        status = StepStatus.ERROR if failed else StepStatus.COMPLETE
        for step_id, step in list(self._steps.items()):
            if step.status in _OPEN:
                self._steps[step_id] = replace(step, status=status)
                self._unsent[step_id] = None

    def status_line(self) -> str | None:
        """The newest open step as one line of Markdown, for update mode; None if none."""
        for step in reversed(self._steps.values()):
            if step.status in _OPEN:
                return f"⏳ _{_title(step.title)}…_"
        return None


def task_chunk(step: Progress) -> dict[str, Any]:
    """One step as Slack's `task_update` chunk (slack_sdk.models.messages.chunk)."""
    chunk: dict[str, Any] = {
        "type": "task_update",
        "id": step.step_id,
        "title": _title(step.title),
        "status": step.status.value,
    }
    sources = [
        {"type": "url", "url": source.url, "text": _title(source.title or source.url)}
        for source in step.sources[:_MAX_SOURCES]
        if source.url and source.url.startswith(("https://", "http://"))  # Slack links only these
    ]
    if sources:
        chunk["sources"] = sources
    return chunk


def _title(title: str) -> str:
    title = " ".join(title.split()) or "Working"
    if len(title) <= TASK_TITLE_LIMIT:
        return title
    return title[: TASK_TITLE_LIMIT - 1].rsplit(" ", 1)[0] + "…"
