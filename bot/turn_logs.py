"""The log lines of a turn: received, agent failed (with the operator's fix), finished."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from bot.actions.logic import Resume
from bot.events import AgentRequest, Answer, FailureKind
from bot.memory import Session
from bot.turn import Closing, Turn

log = logging.getLogger("bot.conversation")  # the pipeline's logger, as operators know it


def received(turn: Turn, resume: Resume | None) -> None:
    log.info(
        "question received" if resume is None else "resuming a paused answer",
        extra={
            "surface": turn.surface,
            "conversation": turn.conversation,
            "chars": len(turn.text),
            **({"invocation_id": resume.invocation_id} if resume else {}),
        },
    )


def failed(answer: Answer, closing: Closing, hints: Mapping[FailureKind, str]) -> None:
    """`hints`: those of the backend that answered (bot.agents.hints_for), for `fix`."""
    if answer.failure is None:
        return
    log.warning(
        "agent failed",
        extra={
            "reference": closing.reference,
            "kind": answer.failure.kind.value,
            "code": answer.failure.code,
            "detail": answer.failure.detail,
            "partial": closing.alert is not None,
            "fix": hints.get(answer.failure.kind, ""),
        },
    )


def finished(
    answer: Answer,
    *,
    cost: float,
    session: Session,
    request: AgentRequest,
    reference: str | None,
    delivered: bool,
    started: float,
) -> None:
    log.info(
        "answer finished",
        extra={
            "outcome": answer.failure.kind.value if answer.failure else "ok",
            "reference": reference,
            "delivered": delivered,
            "session_id": session.session_id,
            "fresh_session": session.fresh,
            "replayed_messages": len(request.history),
            "answer_chars": len(answer.text),
            "input_tokens": answer.usage.input_tokens,
            "output_tokens": answer.usage.output_tokens,
            "cost_usd": round(cost, 6),
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )
