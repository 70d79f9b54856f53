// The playground page: follows the bot's Slack writes from /feed (Server-Sent Events) and
// turns what you type or click into Slack requests (the server signs them for the bot).
// Message bodies arrive as HTML the server rendered and escaped (bot/playground/render.py).
"use strict";

const CONFIG = window.PLAYGROUND;
const state = {
  messages: new Map(), // "channel:ts" -> message from the feed
  statuses: new Map(), // "channel:thread_ts" -> status text
  prompts: new Map(), // "channel:thread_ts" -> {title, prompts}
  view: location.hash === "#dm" ? "dm" : "channel",
  thread: null, // ts of the open thread, in the current view's channel
};
const elements = new Map(); // "channel:ts" -> rendered element (kept, so clicks never miss)
const $ = (id) => document.getElementById(id);
const composer = $("composer");

function statusText(status) {
  // "is thinking…" reads after the app's name; loading messages stand on their own.
  return /^is\b/.test(status) ? `${CONFIG.botName} ${status}` : status;
}

function channelOf(view) {
  return view === "dm" ? CONFIG.dm : CONFIG.channel;
}

function tsKey(ts) {
  const [sec, micro] = String(ts).split(".");
  return Number(sec) * 1e6 + Number(micro || 0);
}

function byTs(a, b) {
  return tsKey(a.ts) - tsKey(b.ts);
}

function isTopLevel(m) {
  return !m.thread_ts || m.thread_ts === m.ts;
}

function visible(channel) {
  return [...state.messages.values()].filter((m) => m.channel === channel && !m.deleted);
}

function repliesOf(channel, ts) {
  return visible(channel)
    .filter((m) => m.thread_ts === ts && m.ts !== ts)
    .sort(byTs);
}

// -- rendering -------------------------------------------------------------------------------

function messageElement(m, where) {
  const key = `${where}:${m.channel}:${m.ts}`;
  let el = elements.get(key);
  if (!el) {
    el = document.createElement("div");
    el.innerHTML =
      '<div class="meta"><span class="who"></span><span class="only-you"></span></div>' +
      '<div class="label"></div><div class="body"></div><div class="reactions"></div>' +
      '<div class="thread-line"></div>';
    elements.set(key, el);
  }
  el.className = `msg ${m.author}${m.ephemeral ? " ephemeral" : ""}${m.streaming ? " streaming" : ""}`;
  el.dataset.testid = where === "root" ? "thread-root" : "message";
  el.dataset.ts = m.ts;
  el.dataset.channel = m.channel;
  el.dataset.author = m.author;
  if (m.thread_ts && m.thread_ts !== m.ts) el.dataset.threadTs = m.thread_ts;
  else delete el.dataset.threadTs;
  el.querySelector(".who").textContent = m.author === "bot" ? CONFIG.botName : "you";
  el.querySelector(".only-you").textContent = m.ephemeral ? "Only visible to you" : "";
  el.querySelector(".label").textContent = m.label || "";
  const body = el.querySelector(".body");
  if (body.dataset.html !== m.html) {
    body.innerHTML = m.html;
    body.dataset.html = m.html;
  }
  el.querySelector(".reactions").textContent = m.reactions
    .map((name) => ({ eyes: "👀", hourglass_flowing_sand: "⏳" })[name] || `:${name}:`)
    .join(" ");
  renderThreadLine(el.querySelector(".thread-line"), m, where);
  return el;
}

function renderThreadLine(line, m, where) {
  if (where !== "main" || m.ephemeral || !isTopLevel(m)) {
    line.replaceChildren();
    return;
  }
  const count = repliesOf(m.channel, m.ts).filter((r) => !r.ephemeral).length; // as Slack counts
  let link = line.querySelector("a");
  if (!link) {
    link = document.createElement("a");
    link.href = "#";
    link.dataset.testid = "open-thread";
    link.addEventListener("click", (e) => {
      e.preventDefault();
      openThread(m.ts);
    });
    line.replaceChildren(link);
  }
  link.textContent = count === 0 ? "Reply in thread" : count === 1 ? "1 reply" : `${count} replies`;
  const status = state.statuses.get(`${m.channel}:${m.ts}`);
  let note = line.querySelector(".status");
  if (status && !note) {
    note = document.createElement("span");
    note.className = "status";
    line.append(note);
  }
  if (note) note.textContent = status ? statusText(status) : "";
}

function place(container, list) {
  const wanted = new Set(list);
  for (const child of [...container.children]) if (!wanted.has(child)) child.remove();
  list.forEach((el, i) => {
    if (container.children[i] !== el) container.insertBefore(el, container.children[i] || null);
  });
}

function statusElement(channel, ts) {
  const status = state.statuses.get(`${channel}:${ts}`);
  if (!status) return [];
  const el = document.createElement("div");
  el.className = "status-line";
  el.textContent = statusText(status);
  return [el];
}

function render() {
  const channel = channelOf(state.view);
  const mainBox = $("main-messages");
  const stuck = mainBox.scrollHeight - mainBox.scrollTop - mainBox.clientHeight < 40;
  const main = visible(channel).filter(isTopLevel).sort(byTs);
  place(mainBox, main.map((m) => messageElement(m, "main")));
  if (stuck) mainBox.scrollTop = mainBox.scrollHeight;
  for (const link of document.querySelectorAll(".view-link")) {
    link.classList.toggle("active", link.dataset.view === state.view);
  }
  $("main-title").textContent = state.view === "dm" ? CONFIG.botName : `# ${CONFIG.channelName}`;
  renderPrompts(channel);
  const pane = $("thread");
  pane.hidden = !state.thread;
  if (state.thread) {
    const root = state.messages.get(`${channel}:${state.thread}`);
    const replies = repliesOf(channel, state.thread).map((m) => messageElement(m, "thread"));
    const head = root ? [messageElement(root, "root")] : [];
    const box = $("thread-messages");
    place(box, [...head, ...replies, ...statusElement(channel, state.thread)]);
    box.scrollTop = box.scrollHeight;
  }
  const slot = state.thread ? $("thread-slot") : $("main-slot");
  if (composer.parentElement !== slot) {
    slot.prepend(composer);
    composer.focus();
  }
  const where = state.view === "dm" ? CONFIG.botName : `#${CONFIG.channelName}`;
  composer.placeholder = state.thread ? "Reply in thread…" : `Message ${where}`;
}

function renderPrompts(channel) {
  const box = $("prompts");
  const found = state.prompts.get(`${channel}:${state.thread || ""}`) ||
    (state.thread ? null : state.prompts.get(`${channel}:`));
  box.hidden = state.view !== "dm" || !found || state.thread !== null;
  if (box.hidden) return;
  const buttons = found.prompts.map((p) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn prompt";
    b.textContent = p.title;
    b.addEventListener("click", () => send(p.message));
    return b;
  });
  const title = document.createElement("div");
  title.className = "prompts-title";
  title.textContent = found.title || "Suggested prompts";
  box.replaceChildren(title, ...buttons);
}

// -- actions ---------------------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) note(`The playground answered HTTP ${response.status}.`);
  return response.ok;
}

function note(text) {
  $("composer-note").textContent = text;
}

async function send(text) {
  note("");
  return post("/playground/send", { view: state.view, thread_ts: state.thread, text });
}

function openThread(ts) {
  state.thread = ts;
  render();
}

function switchView(view) {
  state.view = view;
  state.thread = null;
  history.replaceState(null, "", `#${view}`);
  render();
  if (view === "dm") post("/playground/open", { view: "dm" });
}

composer.addEventListener("keydown", async (e) => {
  if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
  e.preventDefault();
  const text = composer.value;
  if (!text.trim()) return;
  composer.value = "";
  if (!(await send(text))) composer.value = text;
});

document.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-action-id]");
  if (!button) return;
  const message = button.closest("[data-ts]");
  post("/playground/click", {
    channel: message.dataset.channel,
    message_ts: message.dataset.ts,
    action_id: button.dataset.actionId,
    block_id: button.dataset.blockId,
    value: button.dataset.value,
    label: button.textContent,
  });
});

for (const link of document.querySelectorAll(".view-link")) {
  link.addEventListener("click", (e) => {
    e.preventDefault();
    switchView(link.dataset.view);
  });
}
$("close-thread").addEventListener("click", () => openThread(null));

// -- the feed --------------------------------------------------------------------------------

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

const feed = new EventSource("/feed");
feed.addEventListener("reset", () => {
  state.messages.clear();
  state.statuses.clear();
  state.prompts.clear();
  schedule();
});
feed.addEventListener("message", (e) => {
  const m = JSON.parse(e.data);
  state.messages.set(`${m.channel}:${m.ts}`, m);
  schedule();
});
feed.addEventListener("status", (e) => {
  const s = JSON.parse(e.data);
  state.statuses.set(`${s.channel}:${s.thread_ts}`, s.status);
  schedule();
});
feed.addEventListener("prompts", (e) => {
  const p = JSON.parse(e.data);
  state.prompts.set(`${p.channel}:${p.thread_ts || ""}`, p);
  schedule();
});
feed.addEventListener("error", () => note("Reconnecting to the playground…"));
feed.addEventListener("open", () => note(""));

render();
if (state.view === "dm") post("/playground/open", { view: "dm" });
