"""Slack's limits and the bot's operational constants, in one place.

Slack's numbers come from its documentation (docs.slack.dev); the rest are this bot's choices,
each with why. What an operator may change is a setting (bot/settings.py), not here.
"""

from __future__ import annotations

# -- Slack (and AWS) limits ---------------------------------------------------------------
# used by bot/slack_targets.py and bot/formatting.py
# Slack limits (docs.slack.dev): `markdown_text` takes 12,000 characters per call (every
# answer message sends it, or `markdown` blocks, 12,000 cumulative).
MARKDOWN_TEXT_LIMIT = 12_000
SECTION_TEXT_LIMIT = 3_000  # Block Kit: a section's text
# used by bot/blocks.py
ALERT_TEXT_LIMIT = 3_000  # a text object's limit in Block Kit
MARKDOWN_BLOCKS_LIMIT = 12_000  # markdown blocks: cumulative characters per message
# used by bot/tables.py
TABLE_MAX_ROWS = 100  # Block Kit table block: rows
TABLE_MAX_COLUMNS = 20  # … and cells per row
TABLE_CELL_MAX_CHARS = 2_000  # not documented for raw_text: kept generous but bounded
# used by bot/actions/logic.py
BUTTON_LABEL_LIMIT = 75  # Block Kit: a button's text
# used by bot/slack_progress.py
# Block Kit keeps titles short; Slack truncates silently, so we cut visibly at a word.
TASK_TITLE_LIMIT = 150
# used by bot/http_guard.py
SLOW_AFTER_SECONDS = 1.0  # a connection this old without a request being processed is slow
MAX_CLOCK_SKEW_SECONDS = 300  # Slack: reject requests older than five minutes (replays)
# used by bot/agents/knowledge_base.py
KB_INPUT_LIMIT = 1_000  # RetrieveAndGenerateInput.text, botocore's model
# used by bot/thread_context.py
REPLIES_PAGE = 200  # docs.slack.dev: "no more than 200 results at a time" is recommended
TRANSCRIPT_MAX_CHARS = 8_000

# -- operational constants ----------------------------------------------------------------
# used by bot/slack_calls.py
FINAL_ATTEMPTS = 4  # hiccups (5xx, broken connections) a final write survives; 429s don't count
FINAL_WRITE_DEADLINE_SECONDS = 120.0
CLEAN_UP_SECONDS = 10.0  # removing a sign of life gets this long even past the deadline
# A placeholder the answer was reposted below is removed in the background for this long:
# Tier 3 (≈ 50 a minute) drains a crowd's placeholders in minutes, not seconds.
LATE_CLEAN_UP_SECONDS = 600.0
# used by bot/slack_stream.py: with no reaction or status to show (Slack's budget spent), a
# native answer waits this long for its first text before it posts a placeholder instead.
PLACEHOLDER_AFTER_SECONDS = 0.5
# used by bot/app.py
FINAL_WRITES_SECONDS = 10.0  # after the grace period: time to write "interrupted" notes
# used by bot/memory/store.py
LOCK_LEASE_SECONDS = 15.0  # TURN_LEASE_SECONDS: a crashed replica's lock frees itself after this
LATENCY_BUDGET_SECONDS = 0.25
FEEDBACK_MAX_VOTES = 1000  # per conversation: a DM can live for years
# used by bot/start_checks.py
REDIS_START_CHECK_SECONDS = 2.0
# used by bot/actions/registry.py
HANDLER_TIMEOUT_SECONDS = 30.0
