"""What the pipeline writes an answer into; the Slack writers implement these."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bot.events import Progress


class AnswerSink(Protocol):
    """Where an answer is shown (a streamed thread reply, an ephemeral response, …)."""

    async def begin(self) -> None: ...

    def append(self, text: str) -> None: ...

    async def end(
        self, *, suffix: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> bool: ...

    @property
    def ended(self) -> bool: ...

    @property
    def first_visible_at(self) -> float | None: ...


@runtime_checkable
class ShowsProgress(Protocol):
    """A sink that can show the agent's steps beside the answer (the Slack thread writer)."""

    def progress(self, step: Progress) -> None: ...

    def close_steps(self, *, failed: bool) -> None: ...
