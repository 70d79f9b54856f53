"""The one Slack error mapping: any exception, any body, one decision — and it never raises."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError

from bot.slack_errors import classify, retry_after

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


def api_error(response: Any) -> SlackApiError:
    return SlackApiError("failed", response)


@given(
    data=json_values | st.binary(max_size=10),
    status=st.none() | st.integers(-1, 1000) | st.text(max_size=3),
    headers=st.none() | st.dictionaries(st.sampled_from(["Retry-After", "x"]), st.text(max_size=6)),
)
def test_any_response_shape_is_classified_without_raising(
    data: Any, status: Any, headers: Any
) -> None:
    response = SimpleNamespace(data=data, status_code=status, headers=headers)
    failure = classify(api_error(response))
    assert failure.error
    assert failure.retry_after is None or 0 <= failure.retry_after < 3600


def test_slack_s_own_refusal_is_final_and_its_hiccups_are_transient() -> None:
    refused = classify(
        api_error(
            SimpleNamespace(
                data={"ok": False, "error": "invalid_blocks"}, status_code=200, headers={}
            )
        )
    )
    hiccup = classify(
        api_error(
            SimpleNamespace(
                data={"ok": False, "error": "internal_error"}, status_code=200, headers={}
            )
        )
    )
    assert (refused.error, refused.transient, refused.uncertain) == ("invalid_blocks", False, False)
    assert (hiccup.transient, hiccup.uncertain) == (True, False)


def test_an_html_5xx_page_is_transient_and_may_have_been_applied() -> None:
    # slack_sdk wraps the aiohttp response itself when the body is not JSON: `status`, no data.
    failure = classify(api_error(SimpleNamespace(status=502, headers={})))
    assert (failure.error, failure.transient, failure.uncertain) == ("http_502", True, True)


def test_a_4xx_page_from_a_proxy_is_not_retried() -> None:
    assert not classify(api_error(SimpleNamespace(data={}, status_code=403, headers={}))).transient


def test_a_429_carries_its_retry_after() -> None:
    response = SimpleNamespace(data="<html>", status_code=429, headers={"Retry-After": "7"})
    failure = classify(api_error(response))
    assert failure.rate_limited and failure.retry_after == 7.0


def test_connection_errors_and_sdk_surprises_are_transient() -> None:
    for exc in (
        aiohttp.ClientConnectionError(),
        TimeoutError(),
        AttributeError("str.get"),
        KeyError("ts"),
    ):
        failure = classify(exc)
        assert failure.transient and failure.uncertain


def test_a_retry_after_that_is_not_a_number_counts_as_one_second() -> None:
    for value in ("soon", "nan", "-4", "1e9"):
        assert retry_after(SimpleNamespace(headers={"Retry-After": value})) == 1.0
