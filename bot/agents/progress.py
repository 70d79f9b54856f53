"""Pure: Bedrock Agents orchestration traces → `Progress` steps the user can watch.

An orchestration step's `invocationInput` (knowledge-base lookup, action group, code
interpreter, collaborator agent) opens a step; the `observation` with the same `traceId`
closes it. Shapes follow botocore's bedrock-agent-runtime model: TracePart → Trace →
OrchestrationTrace (or RoutingClassifierTrace) → InvocationInput / Observation; `FailureTrace`
marks what is still open as failed. Traces of collaborator agents carry `collaboratorName`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bot.events import Progress, Source, StepStatus

SourceOf = Callable[[Mapping[str, Any]], Source | None]

# Step titles, in the words a person reads in Slack.
KB_LOOKUP = "Searching the knowledge base"
ACTION = "Running {action}"
CODE = "Running code"
COLLABORATOR = "Asking {agent}"
_TITLE_MAX = 120


class ProgressTracker:
    """Turns the trace parts of one answer into Progress events; remembers open steps."""

    def __init__(self, source_of: SourceOf) -> None:
        self._source_of = source_of
        self._open: dict[str, str] = {}  # step_id → title, for steps not yet observed

    def translate(self, part: Mapping[str, Any]) -> Iterator[Progress]:
        """The Progress events one `trace` stream event (a TracePart) reports."""
        trace = part.get("trace")
        if not isinstance(trace, Mapping):
            return
        prefix = _prefix(part)
        for key in ("orchestrationTrace", "routingClassifierTrace"):
            step = trace.get(key)
            if isinstance(step, Mapping):
                yield from self._opened(prefix, step.get("invocationInput"))
                yield from self._observed(prefix, step.get("observation"))
        if isinstance(trace.get("failureTrace"), Mapping):
            yield from self.close(failed=True)

    def close(self, *, failed: bool) -> Iterator[Progress]:
        """Steps the agent never reported back on: marked failed (or done) as the answer ends."""
        status = StepStatus.ERROR if failed else StepStatus.COMPLETE
        for step_id, title in list(self._open.items()):
            yield Progress(step_id, title, status)
        self._open.clear()

    def _opened(self, prefix: str, invocation: Any) -> Iterator[Progress]:
        if not isinstance(invocation, Mapping) or not invocation.get("traceId"):
            return
        title = _title_of(invocation)
        if title is None:
            return  # FINISH and unknown kinds: nothing the user would call a step
        step_id = f"{prefix}{invocation['traceId']}"
        self._open[step_id] = title
        yield Progress(step_id, title, StepStatus.IN_PROGRESS)

    def _observed(self, prefix: str, observation: Any) -> Iterator[Progress]:
        if not isinstance(observation, Mapping) or not observation.get("traceId"):
            return
        step_id = f"{prefix}{observation['traceId']}"
        title = self._open.pop(step_id, None)
        if title is None:
            return  # a final response or reprompt: no step was opened for it
        yield Progress(step_id, title, _status_of(observation), self._sources(observation))

    def _sources(self, observation: Mapping[str, Any]) -> tuple[Source, ...]:
        output = observation.get("knowledgeBaseLookupOutput") or {}
        found: list[Source] = []
        for reference in output.get("retrievedReferences") or ():
            source = self._source_of(reference) if isinstance(reference, Mapping) else None
            if source is not None and source not in found:
                found.append(source)
        return tuple(found)


def _prefix(part: Mapping[str, Any]) -> str:
    """Step ids of a collaborator's traces never collide with the supervisor's."""
    collaborator = part.get("collaboratorName")
    return f"{collaborator}:" if isinstance(collaborator, str) and collaborator else ""


def _title_of(invocation: Mapping[str, Any]) -> str | None:
    kind = invocation.get("invocationType")
    action = invocation.get("actionGroupInvocationInput") or {}
    collaborator = invocation.get("agentCollaboratorInvocationInput") or {}
    if kind == "KNOWLEDGE_BASE" or "knowledgeBaseLookupInput" in invocation:
        return KB_LOOKUP
    if kind == "ACTION_GROUP_CODE_INTERPRETER" or "codeInterpreterInvocationInput" in invocation:
        return CODE
    if kind == "AGENT_COLLABORATOR" or collaborator:
        name = str(collaborator.get("agentCollaboratorName") or "another agent")
        return COLLABORATOR.format(agent=name)[:_TITLE_MAX]
    if kind == "ACTION_GROUP" or action:
        return ACTION.format(action=_action_name(action))[:_TITLE_MAX]
    return None


def _action_name(action: Mapping[str, Any]) -> str:
    group = str(action.get("actionGroupName") or "an action")
    if action.get("function"):
        return f"{group}: {action['function']}"
    if action.get("apiPath"):
        verb = str(action.get("verb") or "").upper()
        return f"{group}: {verb} {action['apiPath']}".replace(":  ", ": ")
    return group


def _status_of(observation: Mapping[str, Any]) -> StepStatus:
    code = observation.get("codeInterpreterInvocationOutput") or {}
    if code.get("executionError") or code.get("executionTimeout"):
        return StepStatus.ERROR
    return StepStatus.COMPLETE
