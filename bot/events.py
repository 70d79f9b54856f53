"""Typed values that cross module lines: what a turn asks and what an agent answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """One earlier message of the conversation, replayed into a fresh agent session."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """Everything an agent backend needs for one answer."""

    text: str
    session_id: str
    session_attributes: Mapping[str, str]
    user_id: str
    history: Sequence[HistoryMessage] = ()


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Source:
    """A knowledge-base document the answer cites."""

    title: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Citations:
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one model call used; `model` when the agent says which (summing drops it)."""

    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1,000 tokens, for cost estimates."""

    input_per_1k: float = 0.003
    output_per_1k: float = 0.015

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Prices by model: the longest key found in the model id wins, else the default."""

    default: Prices = field(default_factory=Prices)
    by_model: tuple[tuple[str, Prices], ...] = ()

    def prices_for(self, model: str) -> Prices:
        model = model.lower()
        matches = [(len(key), prices) for key, prices in self.by_model if key.lower() in model]
        return max(matches, key=lambda match: match[0])[1] if model and matches else self.default

    def cost(self, usage: Usage) -> float:
        return self.prices_for(usage.model).cost(usage.input_tokens, usage.output_tokens)


class FailureKind(StrEnum):
    """What went wrong, in the terms the user-facing reply and the metrics need."""

    THROTTLED = "throttled"
    INVALID_INPUT = "invalid_input"
    MISCONFIGURED = "misconfigured"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AgentFailure:
    """The agent could not finish; `code` is the AWS error code or a local reason."""

    kind: FailureKind
    code: str
    detail: str = ""


AgentEvent = TextDelta | Citations | Usage | AgentFailure


@dataclass(frozen=True, slots=True)
class Answer:
    """What an answer came to: the text the user saw and how it ended."""

    text: str
    sources: tuple[Source, ...] = ()
    usage: Usage = field(default_factory=Usage)
    failure: AgentFailure | None = None

    @property
    def interrupted(self) -> bool:
        return self.failure is not None
