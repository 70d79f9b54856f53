"""Read a Slack thread the bot was pulled into late — once; afterwards Redis is the source."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.history import thread_transcript
from bot.slack_errors import classify

log = logging.getLogger(__name__)

# conversations.replies is rate-limited hard for most apps (as low as 1 call a minute):
# one page, the most recent messages, never a pagination loop.
REPLIES_LIMIT = 50
TRANSCRIPT_MAX_CHARS = 8_000


async def read_thread(
    client: AsyncWebClient, *, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None
) -> str:
    """The thread before `before_ts` as a transcript, or "" if Slack would not tell us."""
    try:
        response = await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=REPLIES_LIMIT
        )
        listed = response.get("messages")
        messages = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
        transcript = thread_transcript(messages, bot_user_id=bot_user_id, before_ts=before_ts)
    except Exception as exc:  # any answer, any body: the question is answered without context
        error = classify(exc).error
        log.warning("could not read the thread for context", extra={"slack_error": error})
        return ""
    if len(transcript) > TRANSCRIPT_MAX_CHARS:
        # Keep the end: the messages right before the question matter most.
        transcript = "…" + transcript[-TRANSCRIPT_MAX_CHARS:]
    log.info("read thread context", extra={"messages": len(messages), "chars": len(transcript)})
    return transcript
