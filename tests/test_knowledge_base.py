"""Knowledge-Base DMs: DM_KNOWLEDGE_BASE_ID + DM_MODEL_ARN answer DMs by RetrieveAndGenerateStream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.agents.knowledge_base import INPUT_LIMIT, KnowledgeBaseStream, kb_prompt
from bot.events import Citations, HistoryMessage, Source, TextDelta
from bot.rag_sessions import rag_session_for
from bot.settings import ConfigError, load_settings
from tests.answers import S3, WEB, ask_in_turn
from tests.fakes.bedrock import Script, Text
from tests.fakes.knowledge_base import FakeBedrockWithKnowledgeBase, Guardrail
from tests.fakes.slack import FakeSlack
from tests.harness import (
    KB_ID,
    KB_MODEL_ARN,
    KNOWLEDGE_BASE,
    REDIS_URL,
    Bot,
    dm,
    mention,
    wait_finished,
)

VACATION = [{"retrievedReferences": [{"location": WEB, "metadata": {"title": "Vacation policy"}}]}]
BENEFITS = [{"retrievedReferences": [{"location": S3}]}]

kb_fixture = pytest.mark.parametrize("bedrock", [KNOWLEDGE_BASE], indirect=True)


async def answered(slack: FakeSlack, count: int = 1) -> None:
    """Top-level DM answers show no status to clear: finished ones carry feedback buttons."""
    await slack.wait_for(
        lambda: sum(1 for m in slack.messages.values() if m.channel == "D0DM" and m.blocks) >= count
    )


def dm_text(slack: FakeSlack) -> list[str]:
    return [m.visible for m in slack.messages.values() if m.channel == "D0DM"]


@kb_fixture
async def test_a_dm_is_answered_from_the_knowledge_base_with_numbered_sources(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase
) -> None:
    bedrock.enqueue(
        Script(
            [
                Text("You get 25 days.", citations=VACATION),
                Text(" Benefits differ.", citations=BENEFITS),
            ]
        )
    )
    await bot.send_event(dm("vacation days?"))
    await answered(slack)

    [kb] = bedrock.kb_invocations
    assert kb.configuration == {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {"knowledgeBaseId": KB_ID, "modelArn": KB_MODEL_ARN},
    }
    assert kb.prompt == "vacation days?" and kb.sent_session_id is None
    [answer] = dm_text(slack)
    assert answer.startswith(
        "You get 25 days. [1] Benefits differ. [2]\n\n**Sources**\n"
        "1. [Vacation policy](https://wiki.example.com/hr/vacation)\n"
        "2. benefits.pdf"  # an s3:// document is named, not linked
    )


@kb_fixture
async def test_channel_questions_still_go_to_the_agent(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase
) -> None:
    await bot.send_event(mention("not a DM"))
    await wait_finished(slack)
    assert not bedrock.kb_invocations and len(bedrock.invocations) == 1


@kb_fixture
async def test_follow_ups_go_back_to_the_session_bedrock_issued(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase, redis_prefix: str
) -> None:
    question = dm("first question")
    follow_up = dm("second question", thread_ts=question["ts"])
    await ask_in_turn(bot, slack, question, follow_up, finished=answered)

    first, second = bedrock.kb_invocations
    assert first.sent_session_id is None
    assert second.sent_session_id == first.session_id
    assert second.prompt == "second question"  # Bedrock remembers: no turns carried
    redis = Redis.from_url(REDIS_URL)
    stored = await redis.get(
        f"{redis_prefix}{{T0001:D0DM:{question['ts']}}}:rag_session"
    )  # the hash tag
    await redis.aclose()
    assert stored is not None and first.session_id in stored.decode()


@kb_fixture
async def test_an_expired_session_starts_a_new_one_carrying_recent_turns(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase
) -> None:
    question = dm("how many vacation days?")
    await bot.send_event(question)
    await answered(slack)
    [first] = bedrock.kb_invocations
    bedrock.expire(first.session_id)

    await bot.send_event(dm("and sick days?", thread_ts=question["ts"]))
    await answered(slack, 2)

    _, refused, retried = bedrock.kb_invocations
    assert refused.sent_session_id == first.session_id  # Bedrock no longer knows it
    assert retried.sent_session_id is None and retried.session_id != first.session_id
    assert retried.input_text == "and sick days?"
    assert retried.conversation_history == [
        {"role": "user", "content": [{"text": "how many vacation days?"}]},
        {"role": "assistant", "content": [{"text": "You said: how many vacation days?"}]},
    ]
    assert dm_text(slack)[-1].startswith("You said: and sick days?")


@kb_fixture
async def test_a_guardrail_intervention_is_shown_as_such(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase
) -> None:
    bedrock.enqueue(Script([Text("Sorry, I can't answer that."), Guardrail("INTERVENED")]))
    await bot.send_event(dm("something forbidden"))
    await answered(slack)

    [answer] = dm_text(slack)
    assert answer.startswith("Sorry, I can't answer that.")
    assert "guardrail intervened" in answer and "interrupted" not in answer


@kb_fixture
async def test_a_question_longer_than_the_knowledge_base_takes_is_cut_visibly(
    bot: Bot, slack: FakeSlack, bedrock: FakeBedrockWithKnowledgeBase
) -> None:
    await bot.send_event(dm("x" * 1500))
    await answered(slack)

    [kb] = bedrock.kb_invocations
    assert len(kb.prompt) == INPUT_LIMIT
    assert "I only read the first 1,000" in dm_text(slack)[0]


def test_half_of_the_knowledge_base_settings_is_a_clear_start_up_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DM_KNOWLEDGE_BASE_ID", KB_ID)
    monkeypatch.delenv("DM_MODEL_ARN", raising=False)
    base = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    base |= {"bedrock_agent_id": "A", "bedrock_agent_alias_id": "B"}
    with pytest.raises(ConfigError, match="DM_MODEL_ARN: required when DM_KNOWLEDGE_BASE_ID"):
        load_settings(**base)


TURNS = st.lists(
    st.builds(HistoryMessage, st.sampled_from(["user", "assistant"]), st.text(max_size=600)),
    max_size=8,
)


@given(question=st.text(min_size=1, max_size=1200), history=TURNS)
def test_the_prompt_never_exceeds_the_input_limit_and_ends_with_the_question(
    question: str, history: list[HistoryMessage]
) -> None:
    prompt = kb_prompt(question, history)
    assert len(prompt) <= INPUT_LIMIT
    assert prompt.endswith(question[:INPUT_LIMIT]) or len(question) > INPUT_LIMIT


def test_recent_turns_are_kept_newest_first_when_they_do_not_all_fit() -> None:
    history = [HistoryMessage("user", "old " * 200), HistoryMessage("assistant", "recent answer")]
    prompt = kb_prompt("now?", history)
    assert "Assistant: recent answer" in prompt and prompt.endswith("now?")
    assert len(prompt) <= INPUT_LIMIT


def test_a_stored_rag_session_counts_only_for_its_bot_session() -> None:
    raw = '{"bot":"T1:D1:g1","rag":"abc-123"}'
    assert rag_session_for(raw, "T1:D1:g1") == "abc-123"
    assert rag_session_for(raw, "T1:D1:g2") is None  # a fresh bot session: a fresh RAG one
    assert rag_session_for("not json", "T1:D1:g1") is None
    assert rag_session_for(None, "T1:D1:g1") is None


def test_citations_number_their_sources_once_each() -> None:
    stream = KnowledgeBaseStream()
    refs = VACATION[0]["retrievedReferences"]
    events = [
        *stream.feed({"output": {"text": "A."}}),
        *stream.feed({"citation": {"retrievedReferences": refs}}),
        *stream.feed({"output": {"text": " B. "}}),
        *stream.feed({"citation": {"citation": {"retrievedReferences": refs}}}),  # deprecated
    ]
    vacation = Source("Vacation policy", "https://wiki.example.com/hr/vacation")
    assert events == [
        TextDelta("A."),
        TextDelta(" [1]"),
        Citations((vacation,)),
        TextDelta(" B. "),
        TextDelta("[1]"),
        Citations((vacation,)),
    ]
