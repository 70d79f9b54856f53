"""Typed values that cross module lines: what a turn asks and what an agent answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum, auto
from typing import Any, Literal


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
    # Set when this request resumes an agent that paused for a person (see ActionRequest):
    # the backend sends these results instead of (or with) `text`.
    resume: tuple[ActionResult, ...] = ()
    # The Slack conversation (memory key) and surface ("mention", "dm", …) this answers: for
    # backends that keep state of their own per conversation, or serve one surface only.
    conversation: str = ""
    surface: str = ""


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
    # Prompt-cache tokens, apart from `input_tokens` (as Converse and the harness report them).
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
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

    THROTTLED = auto()
    INVALID_INPUT = auto()
    MISCONFIGURED = auto()
    CONFLICT = auto()
    UNAVAILABLE = auto()
    INTERRUPTED = auto()
    TIMEOUT = auto()
    UNKNOWN = auto()


@dataclass(frozen=True, slots=True)
class AgentFailure:
    """The agent could not finish; `code` is the AWS error code or a local reason."""

    kind: FailureKind
    code: str
    detail: str = ""


class StepStatus(StrEnum):
    """A progress step's state, in the words of Slack's `task_update` chunk.

    Spelled out rather than `auto()`: the values are Slack's wire format, not names of ours.
    """

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Progress:
    """One step the agent reports while it works (knowledge-base lookup, action group, tool).

    The same `step_id` arrives again when the step's status changes; steps never carry answer
    text.
    """

    step_id: str
    title: str
    status: StepStatus
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionParameter:
    """One named argument of an action, always as text.

    Bedrock Agents sends every value as a string; a harness tool's other JSON values arrive
    JSON-encoded, so handlers and the confirmation text see one type.
    """

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ActionInput:
    """One action the agent wants run before it goes on.

    `kind` says where it came from: a Bedrock Agents function or API invocation input, an
    AgentCore Runtime interrupt, or a harness inline tool. `name` is the function, "METHOD /path",
    the interrupt name or the tool name. `raw` keeps what the backend needs to build the result.
    """

    kind: Literal["function", "api", "interrupt", "tool"]
    action_group: str
    name: str
    parameters: tuple[ActionParameter, ...] = ()
    needs_confirmation: bool = True
    needs_result: bool = False
    reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """The agent paused: it needs a person's consent, or the caller's result, to go on."""

    invocation_id: str
    inputs: tuple[ActionInput, ...]


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What goes back to a paused agent for one `ActionInput`.

    `confirmed` is None where no confirmation was asked; `body` is the handler's result (or a
    short failure reason when `failed`).
    """

    input: ActionInput
    confirmed: bool | None = None
    body: str = ""
    failed: bool = False
    invocation_id: str = ""


AgentEvent = TextDelta | Citations | Usage | AgentFailure | Progress | ActionRequest


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
