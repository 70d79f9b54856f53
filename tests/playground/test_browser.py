"""The playground in a real headless Chromium, driven only through SPEC's data-testid marks."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from bot.playground.runner import Playground

Page = Any  # playwright.async_api.Page; imported lazily so the module loads without it

BOT = '[data-testid="message"][data-author="bot"]'
USER = '[data-testid="message"][data-author="user"]'
FEEDBACK_UP = "👍"


async def ask(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    await composer.fill(text)
    await composer.press("Enter")


async def ask_in_channel(page: Page, question: str) -> str:
    """Ask at the channel's top level; returns the ts of your message (the thread's root)."""
    await page.get_by_test_id("view-channel").click()
    await ask(page, question)
    mine = page.locator(USER, has_text=question.split(" ", 2)[-1]).last
    await mine.wait_for()
    ts = await mine.get_attribute("data-ts")
    assert ts
    await mine.get_by_test_id("open-thread").click()
    return ts


def answer_in(page: Page, thread_ts: str) -> Any:
    return page.locator(f'{BOT}[data-thread-ts="{thread_ts}"]')


async def finished(answer: Any) -> None:
    await answer.get_by_role("button", name=FEEDBACK_UP).wait_for()


async def test_a_question_in_the_channel_streams_into_its_thread_while_the_agent_writes(
    page: Page,
) -> None:
    thread = await ask_in_channel(page, "@Bedrock Agent what is our vacation policy?")
    answer = answer_in(page, thread).first
    await answer.wait_for()
    partial_selector = f'{BOT}[data-thread-ts="{thread}"]'
    # Some text, and the answer not yet over (no feedback buttons): the stream as it happens.
    # The answer's words only: the progress card above them changes status (⏳ → ✅).
    words = """(m) => {
        const body = m.querySelector('.body').cloneNode(true);
        body.querySelectorAll('.tasks').forEach((t) => t.remove());
        return body.textContent.trim();
    }"""
    await page.wait_for_function(
        f"""(selector) => {{
            const m = document.querySelector(selector);
            return m && ({words})(m).length > 0 && !m.querySelector('button[data-action-id]');
        }}""",
        arg=partial_selector,
    )
    partial = await answer.evaluate(words)
    await finished(answer)
    final = await answer.evaluate(words)
    assert len(final) > len(partial) and final.startswith(partial[:20])
    assert "25 vacation days" in final
    assert "Sources" in final
    source = answer.locator("ol > li > a", has_text="Employee handbook")
    assert await source.count() == 1, "one numbered source, linked"
    bold = answer.locator("strong", has_text="25 vacation days")
    assert await bold.count() == 1, "the agent's Markdown is rendered, not shown raw"


async def test_a_reply_in_the_thread_continues_the_conversation_without_a_mention(
    page: Page,
) -> None:
    thread = await ask_in_channel(page, "@Bedrock Agent how do I submit an expense report?")
    await finished(answer_in(page, thread).first)
    await ask(page, "and what about the vacation policy?")
    reply = page.locator(f'{USER}[data-thread-ts="{thread}"]', has_text="vacation policy")
    await reply.wait_for()
    answers = answer_in(page, thread)
    await answers.nth(1).wait_for()
    await finished(answers.nth(1))
    assert "25 vacation days" in await answers.nth(1).inner_text()
    root = page.locator(f'{USER}[data-ts="{thread}"]')
    await root.get_by_test_id("open-thread").filter(has_text="3 replies").wait_for()


async def test_order_answers_only_you_with_an_ephemeral_message(page: Page) -> None:
    await page.get_by_test_id("view-channel").click()
    await ask(page, "/order ORD-88421")
    private = page.locator(BOT, has_text="Only visible to you")
    await private.filter(has_text="shipped").wait_for()
    assert await private.count() == 1, "the answer replaced the 'Looking up…' note"
    assert "ORD-88421" in await private.inner_text()


async def test_thumbs_up_is_counted_in_metrics(page: Page, playground: Playground) -> None:
    thread = await ask_in_channel(page, "@Bedrock Agent where is the onboarding checklist?")
    answer = answer_in(page, thread).first
    await finished(answer)
    assert await votes(playground, "up") == 0
    await answer.get_by_role("button", name=FEEDBACK_UP).click()
    await page.locator(BOT, has_text="Thanks for the feedback").wait_for()
    assert await votes(playground, "up") == 1


async def test_the_dm_shows_the_messages_tab_prompts_and_answers_one(page: Page) -> None:
    await page.get_by_test_id("view-dm").click()
    await page.get_by_role("button", name="What is our vacation policy?").click()
    mine = page.locator(USER, has_text="What is our vacation policy?")
    await mine.wait_for()
    ts = await mine.get_attribute("data-ts")
    # The answer comes in the DM itself or in the thread of the question: follow it either way.
    where = await page.wait_for_function(
        """(ts) => {
            if ([...document.querySelectorAll('[data-author="bot"] .body')].some(
                (b) => b.textContent.includes('vacation days'))) return 'here';
            const link = document.querySelector(`[data-ts="${ts}"] [data-testid="open-thread"]`);
            return link && /repl/.test(link.textContent) ? 'thread' : null;
        }""",
        arg=ts,
    )
    if await where.json_value() == "thread":
        await mine.get_by_test_id("open-thread").click()
    answer = page.locator(BOT, has_text="25 vacation days")
    await finished(answer)


async def test_confirm_on_the_demo_agents_action_continues_the_answer(page: Page) -> None:
    thread = await ask_in_channel(page, "@Bedrock Agent please cancel order ORD-88421")
    confirm = page.get_by_role("button", name="Confirm")
    await confirm.wait_for(timeout=8_000)
    await confirm.click()
    await answer_in(page, thread).filter(has_text="is cancelled").wait_for(timeout=8_000)


async def votes(playground: Playground, vote: str) -> float:
    """slackbot_feedback_total for `vote`, from /metrics on the playground's port."""
    async with aiohttp.ClientSession() as http, http.get(f"{playground.url}/metrics") as response:
        text = await response.text()
    found = re.search(rf'^slackbot_feedback_total\{{vote="{vote}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0
