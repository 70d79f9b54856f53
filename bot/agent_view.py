"""Slack's agent messaging experience (`features.agent_view`): prompts, thread titles.

The pure half decides what to show (a thread's title from its first question, the prompts from
settings); the async half makes the best-effort calls. Neither is worth failing an answer for.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_errors import classify

log = logging.getLogger(__name__)

TITLE_MAX_CHARS = 60  # the History tab shows one line per conversation; keep it short


def thread_title(question: str) -> str:
    """A DM thread's title: the question's first line, cut on a word boundary with "…"."""
    line = " ".join(question.strip().splitlines()[0].split()) if question.strip() else ""
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line.rfind(" ", 0, TITLE_MAX_CHARS - 1)
    return line[: cut if cut > TITLE_MAX_CHARS // 2 else TITLE_MAX_CHARS - 1].rstrip() + "…"


def prompts_payload(prompts: tuple[str, ...]) -> list[dict[str, str]]:
    """assistant.threads.setSuggestedPrompts' `prompts`: each shown and sent as written."""
    return [{"title": prompt, "message": prompt} for prompt in prompts]


async def set_title(client: AsyncWebClient, *, channel: str, thread_ts: str, title: str) -> None:
    """Name a DM thread in the app's History tab (assistant.threads.setTitle)."""
    if not title:
        return
    try:
        await client.assistant_threads_setTitle(
            channel_id=channel, thread_ts=thread_ts, title=title
        )
    except Exception as exc:  # a title is a nicety: whatever Slack answered is only logged
        log.info("could not set the thread title", extra={"slack_error": classify(exc).error})


async def show_prompts(
    client: AsyncWebClient, *, channel: str, prompts: tuple[str, ...], title: str
) -> None:
    """Suggested prompts for the app's chat (assistant.threads.setSuggestedPrompts)."""
    if not prompts:
        return
    try:
        await client.assistant_threads_setSuggestedPrompts(
            channel_id=channel, prompts=prompts_payload(prompts), title=title or None
        )
    except Exception as exc:  # prompts are a nicety: whatever Slack answered is only logged
        log.warning("could not show suggested prompts", extra={"slack_error": classify(exc).error})
