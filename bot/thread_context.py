"""Read a Slack thread the bot was pulled into late — once; afterwards Redis is the source."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.history import thread_transcript
from bot.limits import REPLIES_PAGE, TRANSCRIPT_MAX_CHARS
from bot.slack_errors import classify

log = logging.getLogger(__name__)

# conversations.replies pages oldest first, so the messages right before the mention are on
# the last page: follow cursors, keeping the thread's opening message and the newest ones.
# It is rate-limited hard (Tier 3; 1 a minute and at most 15 a page for apps distributed
# outside the Marketplace), so a refused page ends the reading with what was read so far.
MAX_PAGES = 10
KEEP_NEWEST = 50

Message = Mapping[str, Any]


async def read_thread(
    client: AsyncWebClient, *, channel: str, thread_ts: str, before_ts: str, bot_user_id: str | None
) -> str:
    """The thread before `before_ts` as a transcript, or "" if Slack would not tell us."""
    opening, newest = await _read_messages(
        client, channel=channel, thread_ts=thread_ts, before_ts=before_ts
    )
    messages = [*([opening] if opening is not None else []), *newest]
    transcript = thread_transcript(messages, bot_user_id=bot_user_id, before_ts=before_ts)
    if len(transcript) > TRANSCRIPT_MAX_CHARS:
        # Keep the end: the messages right before the question matter most.
        transcript = "…" + transcript[-TRANSCRIPT_MAX_CHARS:]
    log.info("read thread context", extra={"messages": len(messages), "chars": len(transcript)})
    return transcript


async def _read_messages(
    client: AsyncWebClient, *, channel: str, thread_ts: str, before_ts: str
) -> tuple[Message | None, list[Message]]:
    """The thread's opening message and its newest KEEP_NEWEST replies before `before_ts`."""
    opening: Message | None = None
    newest: deque[Message] = deque(maxlen=KEEP_NEWEST)
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        try:
            response = await client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                latest=before_ts,  # nothing after the mention: fewer pages
                inclusive=False,
                limit=REPLIES_PAGE,
                cursor=cursor,
            )
        except Exception as exc:  # any answer, any body: answered with what was read so far
            error = classify(exc).error
            log.warning("could not read the thread for context", extra={"slack_error": error})
            break
        listed = response.get("messages")
        for message in listed if isinstance(listed, list) else []:
            if not isinstance(message, dict):
                continue
            if opening is None and message.get("ts") == thread_ts:
                opening = message
            else:
                newest.append(message)
        metadata = response.get("response_metadata")
        cursor = (metadata.get("next_cursor") if isinstance(metadata, dict) else None) or None
        if not response.get("has_more") or cursor is None:
            break
    return opening, list(newest)
