"""What an operator should check when an agent call fails, in the words of the backend that failed.

Each backend states its own `OperatorHints` (the settings that name what it calls, the IAM
actions its credentials need); the pipeline logs the hint of the backend that answered a turn
(`hints_for`), and doctor prints the same texts as its fixes. Logged, never shown to users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.events import AgentRequest, FailureKind

# The same whichever backend answered.
COMMON_HINTS: Mapping[FailureKind, str] = {
    FailureKind.THROTTLED: "raise the agent's model quota or slow the traffic down",
    FailureKind.INVALID_INPUT: "the agent rejected the request (input too long or malformed)",
}


@dataclass(frozen=True, slots=True)
class OperatorHints:
    """`settings`: what names the thing called ("A, B"); `permissions`: "iam:Action … on what"."""

    settings: str
    permissions: str

    @property
    def not_found(self) -> str:
        """The fix for a target AWS does not know (ResourceNotFoundException)."""
        return f"check {self.settings} and AWS_REGION"

    @property
    def denied(self) -> str:
        """The fix for a call the credentials may not make (AccessDeniedException)."""
        return f"allow {self.permissions}"

    @property
    def misconfigured(self) -> str:
        return f"{self.not_found}, and that the bot's AWS credentials {self.denied}"

    def by_kind(self) -> Mapping[FailureKind, str]:
        """The hint per failure kind, as the pipeline logs it (`fix`)."""
        return {FailureKind.MISCONFIGURED: self.misconfigured, **COMMON_HINTS}

    def by_code(self) -> dict[str, str]:
        """The same texts per AWS error code, as doctor prints them after a failed call."""
        return {"ResourceNotFoundException": self.not_found, "AccessDeniedException": self.denied}


@runtime_checkable
class StatesHints(Protocol):
    """A backend that says what to check when its calls fail."""

    operator_hints: OperatorHints


@runtime_checkable
class Routes(Protocol):
    """A backend that hands each request to one of several others (DMs, workspaces)."""

    def pick(self, request: AgentRequest) -> object: ...


def hints_for(agent: object, request: AgentRequest) -> Mapping[FailureKind, str]:
    """The hints of the backend that answers `request` (the common ones if it states none)."""
    while isinstance(agent, Routes):
        agent = agent.pick(request)
    return agent.operator_hints.by_kind() if isinstance(agent, StatesHints) else COMMON_HINTS
