"""Admission: beyond MAX_ACTIVE_ANSWERS a question waits visibly, and the agent waits too."""

from __future__ import annotations

import pytest

from tests.answers import held_answer
from tests.conftest import StartBot
from tests.fakes.slack import FakeSlack
from tests.harness import FakeAgent, mention, wait_finished


@pytest.mark.bedrock_only("admission is the same for every agent backend")
async def test_a_question_beyond_the_limit_shows_its_sign_of_life_and_waits_its_turn(
    start: StartBot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    bot = await start(MAX_ACTIVE_ANSWERS="1")
    [go_on] = held_answer(bedrock, "First, ", "done.", seconds=60)
    first, second = mention("first question"), mention("second question", channel="C0OTHER")

    await bot.send_event(first)
    await bedrock.wait_for_invocations(1)
    await bot.send_event(second)
    await slack.wait_for(lambda: bool(slack.reactions_on("C0OTHER", second["ts"])))
    # Shown as being worked on, but not asked while the first answer goes on. (Absence has
    # no event to wait for: a window it must stay absent in; a slow machine can only make
    # this pass without admission, never fail with it.)
    with pytest.raises(TimeoutError):
        await bedrock.wait_for_invocations(2, timeout=0.5)

    go_on.set()
    await wait_finished(slack, 2)
    one, two = bedrock.invocations
    assert [one.input_text, two.input_text] == ["first question", "second question"]
    assert one.finished_at is not None and two.started_at >= one.finished_at
    assert [m.visible for m in slack.thread("C0OTHER", second["ts"])] == [
        "You said: second question"
    ]
