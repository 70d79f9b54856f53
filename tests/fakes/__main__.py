"""Try the bot end to end on this machine, with no Slack workspace and no AWS account.

    python -m tests.fakes demo "what is our refund policy?"

starts the fake Slack and the fake Bedrock Agent Runtime, runs `python -m bot` against them as a
separate process, sends it a signed @mention and prints the thread as the fake Slack saw it,
with the timings that matter (ack, agent's first chunk → first visible text, Slack writes).
`python -m tests.fakes serve` only starts the fakes and prints the environment for the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import aiohttp

from tests.fakes.bedrock import FakeBedrockAgentRuntime, Script
from tests.fakes.signing import event_envelope, signed_headers
from tests.fakes.slack import FakeSlack
from tests.harness import AWS_ENV, SIGNING_SECRET, bot_env, new_ts

ANSWER = (
    "Our refund policy in short:\n\n"
    "- **30 days** to return any item, no questions asked\n"
    "- Refunds reach your card in *5–7 business days*\n\n"
    "See the [handbook](https://example.com/handbook) for the details."
)


async def wait_ready(url: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the bot did not answer on {url}/healthz")


async def demo(question: str, *, streaming: str, port: int) -> int:
    async with FakeSlack() as slack, FakeBedrockAgentRuntime() as bedrock:
        bedrock.responder = lambda _: Script.answer(
            ANSWER, chunk_size=12, first_delay=0.5, interval=0.05
        )
        env = (
            os.environ
            | bot_env(slack, bedrock, "demo:")
            | {
                "PORT": str(port),
                "SLACK_STREAMING": streaming,
                "STREAM_UPDATE_INTERVAL_MS": "800",
                "REDIS_URL": "",
                "LOG_FORMAT": "text",
            }
        )
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_ready(url)
            event = {
                "type": "app_mention",
                "user": "U0DEMO",
                "text": f"<@UBOT> {question}",
                "ts": new_ts(),
                "channel": "C0DEMO",
                "team": "T0001",
            }
            body = json.dumps(event_envelope(event))
            headers = {"Content-Type": "application/json", **signed_headers(body, SIGNING_SECRET)}
            async with aiohttp.ClientSession() as http:
                sent = time.monotonic()
                async with http.post(f"{url}/slack/events", data=body, headers=headers) as resp:
                    ack_ms = (time.monotonic() - sent) * 1000
                    print(f"ack: HTTP {resp.status} in {ack_ms:.1f} ms")
            writes = (
                "chat.startStream",
                "chat.appendStream",
                "chat.stopStream",
                "chat.postMessage",
                "chat.update",
            )
            final = "chat.stopStream" if streaming != "update" else "chat.update"
            await slack.wait_for(
                lambda: (
                    bool(bedrock.invocations)
                    and bedrock.invocations[0].finished_at is not None
                    and any(c.method == final for c in slack.calls)
                ),
                timeout=30,
            )
            await asyncio.sleep(0.2)
            invocation = bedrock.invocations[0]
            answer_writes = [c for c in slack.calls if c.method in writes]
            text_writes = [c for c in answer_writes if c.at >= invocation.chunk_times[0]]
            first_visible = (text_writes[0].at - invocation.chunk_times[0]) * 1000
            print(f"agent's first chunk → first visible text: {first_visible:.0f} ms")
            print(
                f"agent's last chunk → final text: {(answer_writes[-1].at - invocation.chunk_times[-1]) * 1000:.0f} ms"
            )
            print(
                f"Slack writes for this answer: {len(answer_writes)} ({', '.join(c.method for c in answer_writes)})"
            )
            print(
                f"input text the agent got: {invocation.input_text!r}; session {invocation.session_id}"
            )
            for message in slack.thread("C0DEMO", event["ts"]):
                print("--- thread reply ---")
                print(message.visible)
            return 0
        finally:
            bot.terminate()
            await bot.wait()


async def serve(port_slack: int, port_bedrock: int) -> None:
    del port_slack, port_bedrock  # the fakes pick free ports; the printed env points at them
    async with FakeSlack() as slack, FakeBedrockAgentRuntime() as bedrock:
        bedrock.responder = lambda inv: Script.answer(
            f"You asked: {inv.input_text}\n\n{ANSWER}", interval=0.05
        )
        for key, value in (bot_env(slack, bedrock, "dev:") | AWS_ENV | {"PORT": "3000"}).items():
            print(f"export {key}={value}")
        print("# fakes running; Ctrl-C to stop", file=sys.stderr)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="run the bot against the fakes and ask it one question")
    run.add_argument("question", nargs="?", default="what is our refund policy?")
    run.add_argument("--streaming", default="auto", choices=["auto", "native", "update"])
    run.add_argument("--port", type=int, default=3999)
    sub.add_parser("serve", help="only start the fakes and print the bot's environment")
    args = parser.parse_args()
    if args.command == "demo":
        sys.exit(asyncio.run(demo(args.question, streaming=args.streaming, port=args.port)))
    asyncio.run(serve(0, 0))


if __name__ == "__main__":
    main()
