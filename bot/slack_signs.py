"""The sign of life while an answer is worked on, and its clean-up, as one small unit.

A reaction on the question (channels) or the "is thinking…" status (DMs, or reactions
rate-limited). When Slack's budget for both is spent — a crowd of questions in one workspace:
reactions are Tier 3 — the answer stream posts a placeholder message instead, as update mode
always does (chat.postMessage is limited per channel), and that placeholder becomes the answer.
`clear` removes what `show` put up, waiting out Retry-After like a final write: a reaction or a
status left behind is wrong.
"""

from __future__ import annotations

from bot import formatting
from bot.slack_calls import SlackCaller
from bot.slack_targets import SignOfLife, ThreadTarget


class SignsOfLife:
    def __init__(self, *, slack: SlackCaller, target: ThreadTarget) -> None:
        self._slack = slack
        self._target = target
        self._reacted = False
        self._status_set = False

    async def show(self) -> bool:
        """Put up a reaction or a status; False when Slack took neither."""
        target = self._target
        if target.sign_of_life is SignOfLife.REACTION and target.question_ts:
            self._reacted = await self._slack.best_effort(
                "reactions.add",
                channel=target.channel,
                timestamp=target.question_ts,
                name=formatting.SIGN_OF_LIFE_REACTION,
            )
        if not self._reacted:
            self._status_set = await self._slack.best_effort(
                "assistant.threads.setStatus",
                channel_id=target.channel,
                thread_ts=target.thread_ts,
                status=formatting.THINKING_STATUS,
                loading_messages=list(target.loading_messages) or None,
            )
        return self._reacted or self._status_set

    async def clear(self) -> None:
        target = self._target
        if self._status_set:
            self._status_set = False
            await self._slack.clean_up(
                "assistant.threads.setStatus",
                channel_id=target.channel,
                thread_ts=target.thread_ts,
                status="",
            )
        if self._reacted and target.question_ts:
            self._reacted = False
            await self._slack.clean_up(
                "reactions.remove",
                channel=target.channel,
                timestamp=target.question_ts,
                name=formatting.SIGN_OF_LIFE_REACTION,
            )
