"""The key module: every key of one conversation lands in one Redis Cluster slot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from bot.keys import Keys, conversation_key, order_conversation_key

slack_id = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12)
thread_ts = st.from_regex(r"\A1[0-9]{9}\.[0-9]{6}\Z")
prefix = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=12
)


def every_key(keys: Keys, conversation: str) -> list[str]:
    return [
        keys.turns(conversation),
        keys.session(conversation),
        keys.lock(conversation),
        keys.feedback(conversation),
        keys.inflight(conversation, "a1b2c3"),
    ]


@given(prefix, slack_id, slack_id, st.none() | thread_ts)
def test_all_keys_of_one_conversation_map_to_one_slot(
    prefix: str, team: str, channel: str, thread: str | None
) -> None:
    keys = Keys(prefix)
    for conversation in (
        conversation_key(team, channel, thread),
        order_conversation_key(team, channel),
    ):
        slots = {key_slot(key.encode()) for key in every_key(keys, conversation)}
        assert slots == {key_slot(conversation.encode())}


def test_a_conversation_key_reads_as_prefix_tag_and_what() -> None:
    keys = Keys("sbb:")
    assert keys.turns("T1:C1:171.1") == "sbb:{T1:C1:171.1}:turns"
    assert keys.conversation_of("sbb:{T1:C1:171.1}:turns") == "T1:C1:171.1"
    assert keys.conversation_of("sbb:event:Ev1") is None


def test_conversations_spread_over_slots() -> None:
    keys = Keys("sbb:")
    slots = {key_slot(keys.turns(f"T1:C1:17000000{n:02d}.000100").encode()) for n in range(50)}
    assert len(slots) > 40  # a tag per conversation, not one hot slot for the whole bot


def test_a_brace_in_a_conversation_cannot_end_its_tag_early() -> None:
    keys = Keys("p:")
    odd = "T1:C{x}:1"
    assert len({key_slot(key.encode()) for key in every_key(keys, odd)}) == 1


def test_a_prefix_with_a_brace_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain"):
        Keys("bot{1}:")
