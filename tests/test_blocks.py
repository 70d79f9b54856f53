"""Block Kit under answers: tables, feedback_buttons, alerts, plain fallbacks, readable sources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import agent_view, blocks, formatting, tables
from bot.events import Source
from tests.conftest import StartBot
from tests.fakes.bedrock import RaiseInStream, Script, Text
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_state import Message, validate_blocks
from tests.harness import FakeAgent, mention, wait_finished

TABLE = "| Plan | Days | Notes |\n|:-----|-----:|:-----:|\n| Basic | 20 | |\n| Senior | 25 | after 5 years |\n"
ANSWER = f"Here are the plans:\n\n{TABLE}\nAsk HR for **more**."


def test_a_markdown_table_becomes_one_table_block_between_markdown_blocks() -> None:
    built = blocks.text_blocks(ANSWER)
    assert [b["type"] for b in built] == ["markdown", "table", "markdown"]
    table = built[1]
    assert [[c["text"] for c in row] for row in table["rows"]] == [
        ["Plan", "Days", "Notes"],
        ["Basic", "20", "–"],
        ["Senior", "25", "after 5 years"],
    ]
    assert table["column_settings"] == [{"align": "left"}, {"align": "right"}, {"align": "center"}]
    validate_blocks(built)


def test_a_second_or_oversized_table_becomes_an_aligned_code_block() -> None:
    big = "| n |\n|---|\n" + "".join(f"| {i} |\n" for i in range(120))
    built = blocks.text_blocks(f"{TABLE}\n{TABLE}\n{big}")
    assert [b["type"] for b in built] == ["table", "markdown"]
    code = built[1]["text"]
    assert code.startswith("```\nPlan    Days      Notes\n------  ----  -------------\n")
    assert "Senior    25  after 5 years" in code and "\n119\n" in code


def test_pipes_in_code_fences_are_not_tables() -> None:
    fenced = "```\n| a | b |\n|---|---|\n```"
    assert not tables.has_table(fenced) and tables.tables_as_code(fenced) == fenced


def test_update_mode_mrkdwn_shows_tables_as_aligned_code() -> None:
    assert "```\nPlan    Days" in formatting.to_mrkdwn(TABLE)


@given(st.text(alphabet=st.sampled_from("|-: ab\n*`#"), max_size=200))
def test_splitting_into_segments_keeps_every_character(markdown: str) -> None:
    assert "".join(s.text for s in tables.segments(markdown)) == markdown


def test_notification_fallback_is_plain_words() -> None:
    markdown = "## Title\n**Bold** and _it_ see [docs](https://x.io) and `code`\n- one\n> quote"
    assert blocks.plain_text(markdown) == "Title\nBold and it see docs and code\none\nquote"


def test_feedback_is_a_context_actions_block_whose_values_carry_the_vote() -> None:
    [block] = blocks.closing_blocks(answer='{"c":"T:C:1","t":"ab"}')
    validate_blocks([block])
    [element] = block["elements"]
    assert (block["type"], element["type"]) == ("context_actions", "feedback_buttons")
    up = {"action_id": element["action_id"], "value": element["positive_button"]["value"]}
    down = {"action_id": element["action_id"], "value": element["negative_button"]["value"]}
    assert blocks.read_vote(up) == ("up", '{"c":"T:C:1","t":"ab"}')
    assert blocks.read_vote(down) == ("down", '{"c":"T:C:1","t":"ab"}')
    assert blocks.read_vote({"action_id": "feedback_up", "value": "x"}) == ("up", "x")
    assert blocks.read_vote({"action_id": "answer_feedback", "value": "sideways:x"}) is None


def test_s3_sources_are_names_and_web_sources_links() -> None:
    sources = [Source("Policy", "https://wiki/p"), Source("benefits.pdf", "s3://hr/benefits.pdf")]
    assert formatting.sources_markdown(sources) == (
        "**Sources**\n1. [Policy](https://wiki/p)\n2. benefits.pdf"
    )


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("  what is\nthe policy?", "what is"),
        ("word " * 30, ("word " * 11).strip() + "…"),
        ("", ""),
    ],
)
def test_a_dm_thread_is_titled_by_its_question(question: str, title: str) -> None:
    assert agent_view.thread_title(question) == title
    assert len(agent_view.thread_title(question)) <= agent_view.TITLE_MAX_CHARS


async def answer_shown(slack: FakeSlack, event: dict[str, str]) -> Message:
    """The answer in the question's thread once its feedback is there (it closes every answer)."""

    def closed() -> bool:
        return any(
            b.get("type") == "context_actions"
            for m in slack.thread("C0CHAN", event["ts"])
            for b in m.blocks
        )

    await slack.wait_for(closed)
    [message] = slack.thread("C0CHAN", event["ts"])
    return message


async def answer_finished(slack: FakeSlack, event: dict[str, str]) -> Message:
    """The answer in the question's thread once it is finished."""
    await wait_finished(slack)  # the 👀 goes once the final edit is done
    [message] = slack.thread("C0CHAN", event["ts"])
    return message


@pytest.mark.parametrize(
    ("settings", "shown"),
    [({}, answer_finished), ({"SLACK_STREAMING": "update"}, answer_shown)],
    ids=["native", "in-update-mode"],
)
async def test_a_table_answer_is_shown_as_a_table_block(
    start: StartBot,
    slack: FakeSlack,
    bedrock: FakeAgent,
    settings: dict[str, str],
    shown: Callable[[FakeSlack, dict[str, str]], Awaitable[Message]],
) -> None:
    bot = await start(**settings)
    bedrock.enqueue(Script.answer(ANSWER, chunk_size=9))
    event = mention("which plans are there?")

    await bot.send_event(event)

    message = await shown(slack, event)
    kinds = [b["type"] for b in message.blocks]
    assert kinds == ["markdown", "table", "markdown", "context_actions"]
    assert "Senior | 25 | after 5 years" in message.visible
    assert "|:-----|" not in message.visible  # no raw Markdown table left on screen
    assert message.text.startswith("Here are the plans:") and "**" not in message.text


async def test_an_interrupted_answer_keeps_its_text_and_shows_an_alert(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(SLACK_STREAMING="update")
    bedrock.enqueue(Script([Text("The first half"), RaiseInStream("internalServerException", "x")]))
    event = mention("question")

    await bot.send_event(event)

    message = await answer_shown(slack, event)
    [alert] = [b for b in message.blocks if b["type"] == "alert"]
    assert "Answer interrupted" in alert["text"]["text"] and alert["level"] == "warning"
    assert message.visible.startswith("The first half\n")
    assert message.text.startswith("The first half\n\n⚠️ Answer interrupted")  # plain words
