"""Joining a long thread late: the bot reads the newest messages before its mention."""

from __future__ import annotations

import pytest

from tests.fakes.slack import FakeSlack
from tests.harness import Bot, FakeAgent, mention, new_ts, wait_finished


def long_thread(slack: FakeSlack, replies: int) -> str:
    """A channel thread of one opening message and `replies` replies, oldest first."""
    root = new_ts()
    slack.replies[("C0CHAN", root)] = [
        {"type": "message", "user": "U0ANN", "text": "[m000] the opening question", "ts": root},
        *(
            {"type": "message", "user": "U0BOB", "text": f"[m{n:03d}] reply", "ts": new_ts()}
            for n in range(1, replies + 1)
        ),
    ]
    return root


@pytest.mark.parametrize("page_cap", [1_000, 15], ids=["marketplace", "non-marketplace"])
async def test_a_120_message_thread_gives_the_agent_its_newest_messages(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent, page_cap: int
) -> None:
    slack.replies_max_limit = page_cap
    root = long_thread(slack, 120)
    later = {"type": "message", "user": "U0BOB", "text": "[m999] after the question"}

    event = mention("so what now?", thread_ts=root)
    slack.replies[("C0CHAN", root)].append(later | {"ts": new_ts()})
    await bot.send_event(event)

    await wait_finished(slack)
    [invocation] = bedrock.invocations
    text = invocation.input_text
    assert "[m000] the opening question" in text  # where the thread started
    assert "[m120] reply" in text and "[m071] reply" in text  # the newest 50 replies
    assert "[m070]" not in text and "[m001]" not in text
    assert "[m999]" not in text  # nothing written after the mention
    assert text.index("[m071]") < text.index("[m120]") < text.index("so what now?")
    calls = slack.calls_to("conversations.replies")
    assert all(c.ok and c.args["latest"] == event["ts"] for c in calls)
    assert len(calls) == -(-121 // min(page_cap, 200))  # every page once, none twice


async def test_a_refused_page_leaves_the_context_read_so_far(
    bot: Bot, slack: FakeSlack, bedrock: FakeAgent
) -> None:
    slack.replies_max_limit = 15  # apps outside the Marketplace: 15 a page, 1 call a minute
    slack.set_limits({"conversations.replies": 1}, burst={"conversations.replies": 1})
    root = long_thread(slack, 40)

    await bot.send_event(mention("and now?", thread_ts=root))

    await wait_finished(slack)
    first, refused = slack.calls_to("conversations.replies")
    assert first.ok and refused.status == 429
    [invocation] = bedrock.invocations
    assert "[m000] the opening question" in invocation.input_text
    assert "[m014] reply" in invocation.input_text and "[m015]" not in invocation.input_text
    assert invocation.input_text.endswith("and now?")
