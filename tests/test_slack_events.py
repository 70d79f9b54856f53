"""Pure event reading: who asked, where to answer, what never reaches the agent."""

from __future__ import annotations

from bot.keys import conversation_key, session_id
from bot.slack_events import is_from_person, mentions_bot, parse_question

BODY = {"team_id": "T0001", "event_id": "Ev1"}


def test_a_person_s_message_is_a_question() -> None:
    assert is_from_person({"user": "U1", "text": "hi", "ts": "1.0"}, bot_user_id="UBOT")


def test_bots_self_edits_and_subtypes_are_ignored() -> None:
    base = {"user": "U1", "text": "hi", "ts": "1.0"}
    assert not is_from_person(base | {"bot_id": "B1"}, bot_user_id="UBOT")
    assert not is_from_person(base | {"user": "UBOT"}, bot_user_id="UBOT")
    assert not is_from_person(base | {"edited": {"ts": "2.0"}}, bot_user_id="UBOT")
    for subtype in ("message_changed", "message_deleted", "channel_join", "bot_message"):
        assert not is_from_person(base | {"subtype": subtype}, bot_user_id="UBOT")
    assert is_from_person(base | {"subtype": "thread_broadcast"}, bot_user_id="UBOT")


def test_a_top_level_message_is_answered_in_a_new_thread_under_it() -> None:
    question = parse_question({"channel": "C1", "user": "U1", "text": "q", "ts": "5.0"}, BODY)
    assert question is not None
    assert (question.reply_thread, question.in_thread) == ("5.0", False)


def test_a_threaded_message_is_answered_in_its_thread() -> None:
    event = {"channel": "C1", "user": "U1", "text": "q", "ts": "6.0", "thread_ts": "5.0"}
    question = parse_question(event, BODY)
    assert question is not None
    assert (question.reply_thread, question.in_thread, question.team_id) == ("5.0", True, "T0001")


def test_malformed_events_are_not_questions() -> None:
    assert parse_question({"channel": "C1", "text": "q"}, BODY) is None
    assert parse_question({"channel": 5, "user": "U1", "ts": "1"}, BODY) is None


def test_session_ids_match_bedrock_s_pattern_even_for_odd_keys() -> None:
    import re

    pattern = re.compile(r"^[0-9a-zA-Z._:-]{2,100}$")
    assert session_id(conversation_key("T1", "C1", "1700000000.000100"), 3) == (
        "T1:C1:1700000000.000100:g3"
    )
    assert pattern.match(session_id("weird key/with spaces & ünïcode", 1))
    long_key = "x" * 300
    assert pattern.match(session_id(long_key, 12))
    assert session_id(long_key, 1) != session_id(long_key + "y", 1)


def test_the_one_mention_parser_knows_the_bots_mention_and_only_it() -> None:
    assert mentions_bot("hey <@UBOT> there", "UBOT")
    assert mentions_bot("hey <@UBOT|bedrock> there", "UBOT")
    assert not mentions_bot("hey <@UBOTTLE> there", "UBOT")  # another user whose id starts alike
    assert not mentions_bot("hey <@UBOT there", "UBOT")
    assert not mentions_bot("hey <@UBOT>", None)
