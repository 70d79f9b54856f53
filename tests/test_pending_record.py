"""A pending confirmation's stored JSON: a `Pending` holds the `Asked` of its turn, yet the JSON
keeps the flat shape earlier versions wrote, so either version reads the other's entries."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.actions.record import Asked, Pending, Place, from_json, to_json
from bot.agents.return_control import action_request
from bot.events import ActionInput, ActionParameter, ActionRequest
from bot.turn import Turn, asked, resumed_turn
from tests.fakes.bedrock import api_input

# Written by the version before `Pending.asked` (the asker's fields flat, no team id).
EARLIER_ENTRY = (
    '{"pending_id":"p1","conversation":"T:C:1.2","asker":"U1","surface":"mention",'
    '"channel_id":"C","asked_turn_id":"turn","question":"q?","prior_text":"before",'
    '"session_id":"s:g1","generation":1,"request":{"invocation_id":"inv-1","inputs":[{"kind":'
    '"api","action_group":"orders","name":"POST /cancel","parameters":[{"name":"id","value":'
    '"1"}],"needs_confirmation":true,"needs_result":false,"reason":"","raw":{"body":{"amount":'
    '"2"}}}]},"place":{"kind":"thread","team_id":"T","channel":"C","thread_ts":"1.2",'
    '"question_ts":"1.2","sign_of_life":"reaction","response_url":""},"expires_at":123.0,'
    '"attributes":{"orderId":"X"},"shown_text":"shown"}'
)
REQUEST = ActionRequest(
    "inv-1",
    (
        ActionInput(
            kind="api",
            action_group="orders",
            name="POST /cancel",
            parameters=(ActionParameter("id", "1"),),
            raw={"body": {"amount": "2"}},
        ),
    ),
)
ASKED = Asked("T:C:1.2", "U1", "T", "C", "mention", "turn", "q?", {"orderId": "X"})
PENDING = Pending(
    "p1",
    ASKED,
    "before",
    "s:g1",
    1,
    REQUEST,
    Place("thread", "T", "C", "1.2", "1.2", "reaction"),
    123.0,
    "shown",
)


def test_an_entry_an_earlier_version_wrote_reads_back_with_its_asker() -> None:
    assert from_json(EARLIER_ENTRY) == PENDING


def test_the_json_written_is_the_one_earlier_versions_read() -> None:
    assert json.loads(to_json(PENDING)) == json.loads(EARLIER_ENTRY)


def test_a_parsed_return_of_control_survives_its_json_round_trip() -> None:
    invocation = api_input("pay", "POST", "/r", {"id": "1"}, body={"amount": "2"})
    request = action_request({"invocationId": "inv-1", "invocationInputs": [invocation]})
    assert request is not None
    pending = replace(PENDING, request=request)
    assert from_json(to_json(pending)) == pending


def test_an_entry_from_before_attributes_reads_with_none() -> None:
    entry = json.loads(EARLIER_ENTRY)
    del entry["attributes"]
    assert from_json(json.dumps(entry)).asked.attributes == {}


def test_a_turn_is_asked_under_the_action_flows_names_and_resumed_as_a_new_turn() -> None:
    turn = Turn(
        surface="mention",
        team_id="T",
        channel_id="C",
        user_id="U1",
        text="q?",
        conversation="T:C:1.2",
        attributes={"orderId": "X"},
        turn_id="turn",
    )
    assert asked(turn) == ASKED
    resumed = resumed_turn(ASKED)
    assert resumed == replace(turn, turn_id=resumed.turn_id)
    assert resumed.turn_id != "turn"
