"""Pure parts of the Bedrock Agents backend: request shape, traces, citations, error kinds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError, EventStreamError

from bot.agents.base import RetryPolicy
from bot.agents.bedrock_agents import (
    BedrockAgentsBackend,
    StreamState,
    sources_from_attribution,
    translate_event,
    usage_from_trace,
)
from bot.agents.errors import failure_from_exception
from bot.events import (
    AgentRequest,
    Citations,
    FailureKind,
    HistoryMessage,
    PriceBook,
    Prices,
    Source,
    TextDelta,
    Usage,
)


def backend(*, preamble: bool = False) -> BedrockAgentsBackend:
    return BedrockAgentsBackend(
        client=None,
        agent_id="AG",
        alias_id="AL",
        replay_as_preamble=preamble,
        executor=ThreadPoolExecutor(1),
        idle_timeout=1,
        retry=RetryPolicy(),
    )


REQUEST = AgentRequest(
    text="and now?",
    session_id="T:C:1.0:g2",
    session_attributes={"slackUserId": "U1"},
    user_id="U1",
    history=(HistoryMessage("user", "hi"), HistoryMessage("assistant", "hello")),
)


def test_history_goes_into_conversation_history_by_default() -> None:
    params = backend().build_params(REQUEST)
    assert params["sessionState"]["conversationHistory"] == {
        "messages": [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "hello"}]},
        ]
    }
    assert params["inputText"] == "and now?"
    assert params["streamingConfigurations"] == {"streamFinalResponse": True}
    assert params["sessionState"]["sessionAttributes"] == {"slackUserId": "U1"}


def test_history_can_be_a_preamble_for_agents_that_ignore_conversation_history() -> None:
    params = backend(preamble=True).build_params(REQUEST)
    assert "conversationHistory" not in params["sessionState"]
    assert params["inputText"].startswith(
        "Earlier in this conversation:\nUser: hi\nAssistant: hello"
    )
    assert params["inputText"].endswith("and now?")


def test_usage_is_summed_over_every_trace_step() -> None:
    trace = {
        "trace": {
            "orchestrationTrace": {
                "modelInvocationOutput": {
                    "metadata": {"usage": {"inputTokens": 100, "outputTokens": 7}}
                }
            },
            "preProcessingTrace": {
                "modelInvocationOutput": {
                    "metadata": {"usage": {"inputTokens": 50, "outputTokens": 3}}
                }
            },
        }
    }
    assert usage_from_trace(trace) == Usage(150, 10)


def test_each_model_call_is_counted_once_and_guardrail_units_not_at_all() -> None:
    model_call = {
        "modelInvocationOutput": {"metadata": {"usage": {"inputTokens": 40, "outputTokens": 4}}}
    }
    # The supervisor's observation sums what its collaborator used; the collaborator's own
    # model calls arrive as their own trace parts (with callerChain) and are counted there.
    supervisor = {
        "trace": {
            "orchestrationTrace": {
                "observation": {
                    "agentCollaboratorInvocationOutput": {
                        "agentCollaboratorName": "orders",
                        "metadata": {"usage": {"inputTokens": 40, "outputTokens": 4}},
                    }
                }
            }
        }
    }
    collaborator = {
        "callerChain": [{"agentAliasArn": "arn:supervisor"}, {"agentAliasArn": "arn:orders"}],
        "collaboratorName": "orders",
        "trace": {"orchestrationTrace": model_call},
    }
    guardrail = {
        "trace": {
            "guardrailTrace": {
                "action": "NONE",
                "metadata": {"usage": {"inputTokens": 12, "outputTokens": 0}},
            }
        }
    }
    assert usage_from_trace(supervisor) == Usage()
    assert usage_from_trace(collaborator) == Usage(40, 4)
    assert usage_from_trace(guardrail) == Usage()


def test_usage_is_priced_by_the_model_the_trace_named() -> None:
    state = StreamState()
    model_input = {
        "trace": {
            "trace": {
                "orchestrationTrace": {
                    "modelInvocationInput": {
                        "foundationModel": "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                        "traceId": "t-0",
                    }
                }
            }
        }
    }
    output = {
        "trace": {
            "trace": {
                "orchestrationTrace": {
                    "modelInvocationOutput": {
                        "metadata": {"usage": {"inputTokens": 1000, "outputTokens": 100}},
                        "traceId": "t-0",
                    }
                }
            }
        }
    }

    assert list(translate_event(model_input, state)) == []
    [usage] = list(translate_event(output, state))

    assert usage == Usage(1000, 100, "us.anthropic.claude-3-5-sonnet-20241022-v2:0")
    book = PriceBook(Prices(1, 1), (("claude", Prices(2, 2)), ("claude-3-5-sonnet", Prices(3, 30))))
    assert book.cost(usage) == 3 + 3  # the longest matching key wins
    assert book.cost(Usage(1000, 0, "amazon.nova-pro-v1:0")) == 1  # unlisted: the default


def test_a_character_split_across_chunks_is_decoded_whole() -> None:
    state = StreamState()
    data = "👍".encode()
    first = list(translate_event({"chunk": {"bytes": data[:2]}}, state))
    second = list(translate_event({"chunk": {"bytes": data[2:]}}, state))
    assert first == [] and second == [TextDelta("👍")]


def test_citations_become_deduplicated_sources() -> None:
    reference = {
        "location": {"type": "WEB", "webLocation": {"url": "https://wiki/hr/leave-policy"}}
    }
    s3 = {
        "location": {"type": "S3", "s3Location": {"uri": "s3://kb/handbook%20v2.pdf"}},
        "metadata": {},
    }
    attribution = {
        "citations": [
            {"retrievedReferences": [reference, s3]},
            {"retrievedReferences": [reference]},
        ]
    }
    assert sources_from_attribution(attribution) == (
        Source("leave-policy", "https://wiki/hr/leave-policy"),
        Source("handbook v2.pdf", "s3://kb/handbook%20v2.pdf"),
    )
    events = list(
        translate_event(
            {"chunk": {"bytes": b"x", "attribution": attribution}},
            StreamState(),
        )
    )
    assert isinstance(events[1], Citations)


def test_error_codes_map_to_failure_kinds_in_both_spellings() -> None:
    initial = ClientError({"Error": {"Code": "ThrottlingException", "Message": "m"}}, "InvokeAgent")
    in_stream = EventStreamError(
        {"Error": {"Code": "throttlingException", "Message": "m"}}, "InvokeAgent"
    )
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "m"}}, "InvokeAgent"
    )
    odd = ClientError(
        {"Error": {"Code": "Weird"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "X"
    )
    assert failure_from_exception(initial).kind is FailureKind.THROTTLED
    assert failure_from_exception(in_stream).kind is FailureKind.THROTTLED
    assert failure_from_exception(denied).kind is FailureKind.MISCONFIGURED
    assert failure_from_exception(odd).kind is FailureKind.UNAVAILABLE
