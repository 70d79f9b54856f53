"""Pure: the page's HTML shell. Messages arrive through the feed, already rendered (render.py)."""

from __future__ import annotations

import html
import json

from bot.playground.model import BOT_NAME, CHANNEL_ID, CHANNEL_NAME, DM_ID


def page_html(*, agent_label: str, demo: bool, command: str) -> str:
    config = json.dumps(
        {"channel": CHANNEL_ID, "dm": DM_ID, "channelName": CHANNEL_NAME, "botName": BOT_NAME}
    )
    label = html.escape(agent_label)
    cmd = html.escape(command)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Slack playground · {html.escape(BOT_NAME)}</title>
<link rel="stylesheet" href="/static/playground.css">
</head>
<body>
<header class="top">
  <strong>Slack playground</strong>
  <span class="sub">the bot runs unchanged against an in-process Slack on this machine</span>
  <span class="badge{" demo" if demo else ""}" data-testid="agent-label">{label}</span>
</header>
<div class="app">
{_sidebar(command=cmd, demo=demo)}  <main class="pane" id="main">
    <div class="pane-title" id="main-title"># {CHANNEL_NAME}</div>
    <div class="messages" id="main-messages"></div>
    <div class="prompts" id="prompts" hidden></div>
    <div class="composer-slot" id="main-slot">
      <textarea id="composer" data-testid="composer" rows="2" autofocus
        placeholder="Message #{CHANNEL_NAME}"></textarea>
      <div class="composer-note" id="composer-note"></div>
    </div>
  </main>
  <aside class="pane thread" id="thread" hidden>
    <div class="pane-title">Thread <button type="button" id="close-thread">Close</button></div>
    <div class="messages" id="thread-messages"></div>
    <div class="composer-slot" id="thread-slot"></div>
  </aside>
</div>
<script>window.PLAYGROUND = {config};</script>
<script src="/static/playground.js"></script>
</body>
</html>
"""


def _sidebar(*, command: str, demo: bool) -> str:
    """The channel list and the hints (`command` is already escaped)."""
    cmd = command
    demo_tips = (
        "<li>Ask with <q>cancel order ORD-88421</q> to see a confirmation.</li>"
        "<li>Add the word <q>error</q> to see an interrupted answer.</li>"
        if demo
        else ""
    )
    return f"""  <nav class="sidebar">
    <div class="section-title">Channels</div>
    <a href="#channel" class="view-link" data-testid="view-channel" data-view="channel"># {CHANNEL_NAME}</a>
    <div class="section-title">Apps</div>
    <a href="#dm" class="view-link" data-testid="view-dm" data-view="dm">{html.escape(BOT_NAME)}</a>
    <ul class="hints">
      <li>In <b>#{CHANNEL_NAME}</b>, start with <q>@Bedrock Agent</q>; the answer goes into the
        thread of your message (its <q>replies</q> link). Replies there need no mention.</li>
      <li><q>{cmd} ORD-88421</q> answers only you.</li>
      <li>The <b>{html.escape(BOT_NAME)}</b> DM shows the Messages-tab prompts.</li>
      {demo_tips}
      <li><a href="/metrics" target="_blank">/metrics</a> · <a href="/readyz" target="_blank">/readyz</a></li>
    </ul>
  </nav>
"""
