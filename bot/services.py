"""The objects built once at start-up and handed to every handler."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.flow import ActionFlow
from bot.agents import AgentBackend
from bot.conversation import Pipeline
from bot.installations.workspaces import Workspaces
from bot.memory import Memory
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack_budget import WriteBudget
from bot.slack_respond import ResponseUrlAnswer
from bot.slack_stream import AnswerStream
from bot.slack_targets import ThreadTarget
from bot.takeover import TurnWatch


@dataclass(slots=True)
class Services:
    settings: Settings
    client: AsyncWebClient
    agent: AgentBackend
    memory: Memory
    budget: WriteBudget
    pipeline: Pipeline
    metrics: Metrics
    turns: TurnWatch  # durable records of the turns being answered (crash takeover)
    actions: ActionFlow | None = None  # Confirm / Cancel for paused agents (bot/actions)
    workspaces: Workspaces | None = None  # OAuth mode: clients for work outside requests

    def private_answer(
        self, response_url: str, *, replace_original: bool = True
    ) -> ResponseUrlAnswer:
        """An answer only the asker sees, through a slash command's response_url."""
        session = self.client.session
        assert session is not None, "build_services gives the Slack client a pooled session"
        return ResponseUrlAnswer(
            session=session, response_url=response_url, replace_original=replace_original
        )

    def thread_answer(self, target: ThreadTarget) -> AnswerStream:
        """A streamed answer into a Slack thread, in the configured streaming mode."""
        return AnswerStream(
            client=self.client,
            target=target,
            mode=self.settings.slack_streaming,
            budget=self.budget,
            final_write_deadline=self.settings.final_write_deadline_seconds,
            show_progress=self.settings.show_progress,
        )
