"""Pure text rules: Markdown → Slack, splitting, sources, user-facing texts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot import formatting
from bot.events import AgentFailure, FailureKind, Source


def test_bold_links_lists_and_code_render_as_slack_mrkdwn() -> None:
    markdown = (
        "**Bold** and _it_ see [docs](https://x.io/a?b=1&c=2)\n\n- one\n- two\n\n```\nx = 1\n```"
    )
    assert formatting.to_mrkdwn(markdown) == (
        "*Bold* and _it_ see <https://x.io/a?b=1&c=2|docs>\n\n•   one\n•   two\n\n```\nx = 1\n```"
    )


def test_special_characters_are_escaped_for_slack() -> None:
    assert formatting.to_mrkdwn("a < b & c") == "a &lt; b &amp; c"


def test_only_the_bots_own_mention_is_stripped() -> None:
    text = "<@UBOT> ask <@U123|ann> about <@UBOT|bot> this"
    assert formatting.strip_mention(text, "UBOT") == "ask <@U123|ann> about this"


def test_long_input_is_capped_and_says_so() -> None:
    assert formatting.cap_input("abcdef", 4) == ("abcd", True)
    assert formatting.cap_input("abc", 4) == ("abc", False)


def test_split_prefers_paragraph_breaks() -> None:
    text = "a" * 30 + "\n\n" + "b" * 30 + "\n\n" + "c" * 30
    assert formatting.split_message(text, 70) == ["a" * 30 + "\n\n" + "b" * 30 + "\n\n", "c" * 30]


def test_split_never_cuts_before_text_already_shown() -> None:
    text = "aaaa\n\n" + "b" * 50
    assert formatting.split_point(text, 40, floor=20) == 40


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=8, max_value=500))
def test_split_keeps_every_character_in_order_within_the_limit(text: str, limit: int) -> None:
    parts = formatting.split_message(text, limit)
    assert "".join(parts) == text
    assert all(0 < len(part) <= limit for part in parts)


@given(st.text(alphabet=st.sampled_from("ab 👍🏽\u200d❤️é\u0301\n"), min_size=1, max_size=400))
def test_split_never_separates_a_character_from_its_modifiers(text: str) -> None:
    for part in formatting.split_message(text, 16)[1:]:
        assert not part.startswith(("\u0301", "\u200d", "\ufe0f", "🏽"))


def test_sources_are_numbered_and_linked() -> None:
    sources = [Source("Handbook", "https://wiki/handbook"), Source("policy.pdf", None)]
    assert formatting.sources_markdown(sources) == (
        "**Sources**\n1. [Handbook](https://wiki/handbook)\n2. policy.pdf"
    )


def test_throttling_is_a_friendly_busy_message_without_jargon() -> None:
    text = formatting.failure_text(
        AgentFailure(FailureKind.THROTTLED, "throttlingException", "Rate exceeded"),
        reference="abcd1234",
        partial=False,
    )
    assert "busy" in text and "throttling" not in text.lower()


def test_other_failures_carry_the_reference_and_never_the_raw_error() -> None:
    failure = AgentFailure(FailureKind.UNKNOWN, "KeyError", "secret internals")
    text = formatting.failure_text(failure, reference="abcd1234", partial=False)
    assert "abcd1234" in text and "secret internals" not in text and "KeyError" not in text
    partial = formatting.failure_text(failure, reference="abcd1234", partial=True)
    assert "interrupted" in partial and "abcd1234" in partial
