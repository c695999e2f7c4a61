// The sandbox page: #fluxori-ops as Slack shows it, drawn from the Slack emulator's state
// (GET /_emulator/state), with the emulated Google Cloud beside it (GET /_sandbox/gcp).
// Every action goes to bot/dev/sandbox_page.py, which sends the bot the request Slack would send.
"use strict";

const POLL_MS = 500;
const CHANNEL = "C_OPS";
const TOAST_MS = 6000;
const USER_COLORS = ["#2eb67d", "#e01e5a", "#1264a3", "#e8912d", "#7c3085", "#0b4c8c"];
const PROJECT_ORDER = ["fluxori-prod", "fluxori-staging", "fluxori-dev"];
const TRAFFIC_COLORS = ["#2eb67d", "#36c5f0", "#ecb22e", "#e01e5a", "#7c3085"];

const app = {
  user: localStorage.getItem("sandbox-user") || "U_ALICE",
  pane: "channel", // or "home"
  thread: "", // ts of the thread shown in the side pane
  state: null,
  gcp: null,
  modals: [],
  members: [],
  grammar: { verbs: [], presets: [] }, // the bot's /ops grammar (GET /_sandbox/commands)
  dismissed: new Set(),
  notes: [], // the page's own Slackbot notes (command errors), only in this browser
  drawn: {}, // what each area was last drawn from, to redraw only on change
  gcpOpen: new Set(["fluxori-prod"]),
  gcpSeen: {},
  refreshSeq: 0,
  drawnSeq: 0,
  suggestion: { items: [], index: 0 },
  emoji: new Map(), // Slack's shortcodes (GET /emoji.json, from iamcal's emoji-data)
};

// -- small helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function getJson(path) {
  const reply = await fetch(path, { cache: "no-store" });
  if (!reply.ok) throw new Error(`${path} answered HTTP ${reply.status}`);
  return reply.json();
}

async function postJson(path, body) {
  const reply = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer;
  try {
    answer = await reply.json();
  } catch {
    answer = { ok: false, error: `HTTP ${reply.status}` };
  }
  if (!reply.ok && answer.ok === undefined) answer.ok = false;
  return answer;
}

function toast(text, isError = false) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = isError ? "error" : "";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, TOAST_MS);
}

function users() {
  return Object.fromEntries((app.state?.users || []).map((u) => [u.id, u]));
}

function displayName(userId) {
  if (app.state && userId === app.state.bot.user_id) return "Fluxori Ops";
  return users()[userId]?.real_name || userId;
}

function firstName(userId) {
  return displayName(userId).split(" ")[0];
}

function colorFor(userId) {
  let sum = 0;
  for (const ch of userId) sum += ch.charCodeAt(0);
  return USER_COLORS[sum % USER_COLORS.length];
}

function avatar(userId, small = false) {
  const size = small ? " small" : "";
  if (userId === "slackbot") return h("div", { class: `avatar slackbot${size}`, text: "S" });
  if (app.state && userId === app.state.bot.user_id) return h("div", { class: `avatar bot${size}`, text: "F" });
  const initial = displayName(userId).slice(0, 1).toUpperCase();
  return h("div", { class: `avatar${size}`, style: `background:${colorFor(userId)}`, text: initial });
}

// -- Slack's date formatting, in the browser's time zone

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

function dayOffset(date) {
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((start(date) - start(new Date())) / 86400000);
}

function pretty(date, otherwise) {
  return { 0: "today", [-1]: "yesterday", 1: "tomorrow" }[dayOffset(date)] || otherwise(date);
}

function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const [n, unit] = s < 60 ? [s, "second"] : s < 3600 ? [Math.floor(s / 60), "minute"]
    : s < 86400 ? [Math.floor(s / 3600), "hour"] : [Math.floor(s / 86400), "day"];
  const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return future ? `in ${words}` : `${words} ago`;
}

const DATE_TOKENS = {
  date_num: (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`,
  date: (d) => `${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${d.getFullYear()}`,
  date_short: (d) => `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`,
  date_long: (d) => `${DAYS[d.getDay()]}, ${DATE_TOKENS.date(d)}`,
  date_pretty: (d) => pretty(d, DATE_TOKENS.date),
  date_short_pretty: (d) => pretty(d, DATE_TOKENS.date_short),
  date_long_pretty: (d) => pretty(d, DATE_TOKENS.date_long),
  time: (d) => clockTime(d, false),
  time_secs: (d) => clockTime(d, true),
  ago: (d) => ago(d),
};

// Slack writes "6:39 AM" with a plain space; the browser's formatter may use a narrow one.
function clockTime(date, withSeconds) {
  const parts = { hour: "numeric", minute: "2-digit", ...(withSeconds ? { second: "2-digit" } : {}) };
  return date.toLocaleTimeString("en-US", parts).replace(/\s/g, " ");
}

function slackDate(body, fallback) {
  // body: "date^EPOCH^FORMAT" or "date^EPOCH^FORMAT^LINK"
  const [, epoch, format = "", link] = body.split("^");
  const date = new Date(Number(epoch) * 1000);
  if (!epoch || Number.isNaN(date.getTime())) return document.createTextNode(fallback);
  const text = format.replace(/\{(\w+)\}/g, (token, name) => (DATE_TOKENS[name] ? DATE_TOKENS[name](date) : token));
  const attrs = { class: "slack-date", title: fallback || date.toISOString(), "data-epoch": epoch, text };
  return link && /^https?:/.test(link) ? h("a", { ...attrs, href: link, target: "_blank", rel: "noopener noreferrer" }) : h("span", attrs);
}

// -- mrkdwn

function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

const SHORTCODE = /:([a-z0-9_+-]+):/g;

function emoji(text) {
  return text.replace(SHORTCODE, (whole, name) => app.emoji.get(name) || whole);
}

// Text with its shortcodes drawn in the emoji font (a font with plain glyphs for ⚠ or ✔ would
// otherwise draw them in black and white).
function emojiNodes(text) {
  const nodes = [];
  let at = 0;
  for (const m of text.matchAll(SHORTCODE)) {
    const character = app.emoji.get(m[1]);
    if (!character) continue;
    nodes.push(text.slice(at, m.index), emojiSpan(character));
    at = m.index + m[0].length;
  }
  nodes.push(text.slice(at));
  return nodes;
}

function emojiSpan(character) {
  return h("span", { class: "emoji", text: character });
}

function mrkdwn(text) {
  const out = h("div", { class: "mrkdwn" });
  const parts = String(text ?? "").split("```");
  parts.forEach((part, i) => {
    const isCode = i % 2 === 1 && i < parts.length - 1;
    if (isCode) out.append(h("pre", { text: decode(part.replace(/^\n/, "")) }));
    else if (part) appendLines(out, i % 2 === 1 ? "```" + part : part);
  });
  return out;
}

function appendLines(parent, text) {
  // "> " at the start of a line quotes it, as in Slack
  const lines = text.split("\n");
  let quote = null;
  lines.forEach((line, i) => {
    const quoted = /^(>|&gt;) ?/.exec(line);
    if (quoted) {
      if (!quote) { quote = h("blockquote"); parent.append(quote); }
      else quote.append(h("br"));
      inline(quote, line.slice(quoted[0].length));
      return;
    }
    quote = null;
    inline(parent, line);
    if (i < lines.length - 1) parent.append("\n");
  });
}

const INLINE = new RegExp([
  "`(?<code>[^`\\n]+)`",
  "<(?<special>[^<>\\n]+)>",
  "(?<![\\p{L}\\p{N}*])\\*(?<bold>[^*\\s](?:[^*\\n]*[^*\\s])?)\\*(?![\\p{L}\\p{N}*])",
  "(?<![\\p{L}\\p{N}_])_(?<italic>[^_\\s](?:[^_\\n]*[^_\\s])?)_(?![\\p{L}\\p{N}_])",
  "(?<![\\p{L}\\p{N}~])~(?<strike>[^~\\s](?:[^~\\n]*[^~\\s])?)~(?![\\p{L}\\p{N}~])",
  ":(?<emoji>[a-z0-9_+-]+):",
].join("|"), "gu");

function inline(parent, text) {
  const re = new RegExp(INLINE.source, INLINE.flags);
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const g = m.groups;
    if (g.emoji !== undefined && !app.emoji.has(g.emoji)) {
      re.lastIndex = m.index + 1; // not an emoji we know: keep the colon, read on
      continue;
    }
    if (m.index > at) parent.append(decode(text.slice(at, m.index)));
    if (g.code !== undefined) parent.append(h("code", { text: decode(g.code) }));
    else if (g.special !== undefined) parent.append(special(g.special));
    else if (g.emoji !== undefined) parent.append(emojiSpan(app.emoji.get(g.emoji)));
    else {
      const tag = g.bold !== undefined ? "b" : g.italic !== undefined ? "i" : "s";
      const inner = h(tag);
      inline(inner, g.bold ?? g.italic ?? g.strike);
      parent.append(inner);
    }
    at = re.lastIndex;
  }
  if (at < text.length) parent.append(decode(text.slice(at)));
}

function special(body) {
  const bar = body.indexOf("|");
  const target = bar >= 0 ? body.slice(0, bar) : body;
  const label = bar >= 0 ? decode(body.slice(bar + 1)) : "";
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const known = users()[id];
    const name = label || (known ? known.name : app.state && id === app.state.bot.user_id ? app.state.bot.name : id);
    return h("span", { class: "mention", "data-user": id, text: `@${name}` });
  }
  if (target.startsWith("#")) {
    const channel = (app.state?.channels || []).find((c) => c.id === target.slice(1));
    return h("span", { class: "mention", text: `#${label || channel?.name || target.slice(1)}` });
  }
  if (target.startsWith("!date^")) return slackDate(target.slice(1), label);
  if (target.startsWith("!subteam^")) {
    const group = (app.state?.usergroups || []).find((g) => g.id === target.slice(9));
    return h("span", { class: "mention", text: label || `@${group?.handle || target.slice(9)}` });
  }
  if (target.startsWith("!")) return h("span", { class: "mention", text: `@${label || target.slice(1)}` });
  const url = decode(target);
  const permalink = /\/archives\/([A-Z0-9_]+)\/p(\d{10})(\d{6})$/.exec(url);
  if (permalink && permalink[1] === CHANNEL) {
    // a link to a thread of this channel (the App Home's history): open it here
    const ts = `${permalink[2]}.${permalink[3]}`;
    return h("a", { href: "#", text: label || url, onclick: (event) => { event.preventDefault(); showChannel(); openThread(ts); } });
  }
  if (/^(https?:|mailto:)/i.test(url)) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label || url });
  }
  return document.createTextNode(decode(`<${body}>`));
}

function textObject(obj) {
  if (!obj) return h("span");
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  if (obj.emoji === false) return h("span", { class: "plain", text: obj.text });
  return h("span", { class: "plain" }, emojiNodes(obj.text || ""));
}

function plain(obj) {
  return obj ? emoji(obj.text || "") : "";
}

// -- Block Kit

// ctx: {surface: "message", channel, ts} or {surface: "view", viewId}; errors for inputs
function renderBlocks(blocks, ctx) {
  const out = h("div", { class: "blocks" });
  for (const block of blocks || []) out.append(renderBlock(block, ctx));
  return out;
}

function renderBlock(block, ctx) {
  switch (block.type) {
    case "header":
      return h("div", { class: "block-header" }, textObject(block.text));
    case "section":
      return section(block, ctx);
    case "context":
      return h("div", { class: "block-context" }, (block.elements || []).map(contextElement));
    case "divider":
      return h("hr", { class: "block-divider" });
    case "actions":
      return h("div", { class: "block-actions", "data-block-id": block.block_id || "" },
        (block.elements || []).map((el) => element(el, ctx)));
    case "image":
      return h("div", { class: "block-image", text: `🖼 ${block.alt_text || "image"} (not loaded: no network)` });
    case "input":
      return input(block, ctx);
    case "rich_text":
      return mrkdwn(richText(block));
    default:
      return h("div", { class: "block-unknown", text: `[${block.type} block]` });
  }
}

function section(block, ctx) {
  const main = h("div", { class: "section-main" });
  if (block.text) main.append(textObject(block.text));
  if (block.fields) main.append(h("div", { class: "fields" }, block.fields.map(textObject)));
  const accessory = block.accessory ? element(block.accessory, ctx) : null;
  return h("div", { class: "block-section" }, main, accessory);
}

function contextElement(el) {
  if (el.type === "image") return h("span", { text: `🖼 ${el.alt_text || ""}` });
  return textObject(el);
}

function richText(block) {
  const words = [];
  const walk = (node) => {
    if (typeof node.text === "string") words.push(node.text);
    (node.elements || []).forEach(walk);
  };
  walk(block);
  return words.join("");
}

function element(el, ctx) {
  if (el.type === "button") {
    const style = el.style ? ` ${el.style}` : "";
    return h("button", {
      class: `bk-button${style}`,
      type: "button",
      "data-action-id": el.action_id,
      text: plain(el.text),
      onclick: (event) => act(ctx, el, el.value, event.currentTarget),
    });
  }
  const options = selectOptions(el);
  if (options) {
    const placeholder = el.type === "overflow" ? "⋯" : plain(el.placeholder) || "Select…";
    const select = h("select", { class: "bk-select", "data-action-id": el.action_id, "aria-label": placeholder },
      h("option", { value: "", text: placeholder }),
      options.map((o) => h("option", { value: o.value, text: plain(o.text) })));
    select.addEventListener("change", () => {
      if (select.value) act(ctx, el, select.value, select);
    });
    return select;
  }
  if (el.type === "image") return h("span", { class: "block-image", text: `🖼 ${el.alt_text || ""}` });
  return h("span", { class: "block-unknown", text: `[${el.type}]` });
}

function selectOptions(el) {
  if (!["static_select", "overflow", "radio_buttons"].includes(el.type)) return null;
  const grouped = (el.option_groups || []).flatMap((g) => g.options || []);
  return [...(el.options || []), ...grouped];
}

// A click: Slack shows the confirm dialog first, then sends block_actions.
async function act(ctx, el, value, control) {
  if (el.url) window.open(el.url, "_blank", "noopener");
  if (el.confirm && !(await askConfirm(el.confirm))) return;
  control.disabled = true;
  control.classList.add("busy");
  const common = { user: app.user, action_id: el.action_id };
  if (value !== undefined) common.value = value;
  const answer = ctx.surface === "message"
    ? await postJson("/_sandbox/click", { ...common, channel: ctx.channel, message_ts: ctx.ts })
    : await postJson("/_sandbox/view/click", { ...common, view_id: ctx.viewId });
  control.disabled = false;
  control.classList.remove("busy");
  if (!answer.ok) toast(`${plain(el.text) || el.action_id}: ${answer.error || "failed"}`, true);
  refresh();
}

function askConfirm(confirm) {
  const layer = document.getElementById("confirm-layer");
  return new Promise((resolve) => {
    const done = (yes) => {
      layer.hidden = true;
      layer.replaceChildren();
      document.removeEventListener("keydown", onKey);
      resolve(yes);
    };
    const onKey = (event) => { if (event.key === "Escape") done(false); };
    const style = confirm.style === "danger" ? "danger" : "primary";
    layer.replaceChildren(h("div", { class: "dialog confirm", role: "alertdialog", "aria-modal": "true", "aria-label": plain(confirm.title) || "Are you sure?" },
      h("header", {}, h("h2", { text: plain(confirm.title) || "Are you sure?" })),
      h("div", { class: "dialog-body" }, textObject(confirm.text)),
      h("footer", {},
        h("button", { class: "dialog-button", type: "button", text: plain(confirm.deny) || "Cancel", onclick: () => done(false) }),
        h("button", { class: `dialog-button ${style}`, type: "button", text: plain(confirm.confirm) || "Yes", onclick: () => done(true) }))));
    layer.hidden = false;
    document.addEventListener("keydown", onKey);
    layer.querySelector(`.dialog-button.${style}`).focus();
  });
}

// -- modal inputs

function input(block, ctx) {
  const el = block.element || {};
  const id = `input-${block.block_id}`;
  const error = ctx.errors?.[block.block_id];
  const field = inputField(el, id, block.block_id);
  return h("div", { class: `input-block${error ? " has-error" : ""}`, "data-block-id": block.block_id },
    h("label", { for: id }, plain(block.label), block.optional ? h("span", { class: "optional", text: " (optional)" }) : null),
    field,
    block.hint ? h("div", { class: "hint", text: plain(block.hint) }) : null,
    h("div", { class: "field-error", role: "alert", hidden: !error, text: error || "" }));
}

function inputField(el, id, blockId) {
  const common = { id, "data-input": blockId, "data-kind": el.type };
  if (el.type === "plain_text_input" && el.multiline) {
    return h("textarea", { ...common, rows: 4, placeholder: plain(el.placeholder) }, el.initial_value || "");
  }
  const options = selectOptions(el);
  if (options) {
    const initial = el.initial_option?.value || "";
    return h("select", common, h("option", { value: "", text: plain(el.placeholder) || "Select…" }),
      options.map((o) => h("option", { value: o.value, selected: o.value === initial, text: plain(o.text) })));
  }
  if (el.type === "checkboxes") {
    const chosen = new Set((el.initial_options || []).map((o) => o.value));
    return h("div", common, (el.options || []).map((o) => h("label", {},
      h("input", { type: "checkbox", value: o.value, checked: chosen.has(o.value) }), ` ${plain(o.text)}`)));
  }
  const type = { number_input: "number", email_text_input: "email", url_text_input: "url" }[el.type] || "text";
  const initial = el.initial_value ?? el.initial_date ?? el.initial_time ?? "";
  return h("input", { ...common, type, value: initial, placeholder: plain(el.placeholder) });
}

function inputValue(field) {
  if (field.dataset.kind === "checkboxes") {
    return [...field.querySelectorAll("input:checked")].map((box) => box.value);
  }
  return field.value;
}

// -- the channel and its threads

function channelState() {
  return (app.state?.channels || []).find((c) => c.id === CHANNEL) || { messages: [] };
}

function myEphemerals() {
  return ((app.state?.ephemerals || {})[app.user] || [])
    .filter((m) => m.channel === CHANNEL && !app.dismissed.has(m.ts));
}

function byTs(a, b) {
  return Number(a.ts) - Number(b.ts);
}

function clock(ts) {
  return clockTime(new Date(Number(ts) * 1000), false);
}

function messageView(message, { inThread = false, previous = null } = {}) {
  const ephemeral = Boolean(message.ephemeral);
  const author = message.user || message.bot_id || "";
  const grouped = previous && !ephemeral && !previous.ephemeral && previous.user === author
    && Number(message.ts) - Number(previous.ts) < 300 && !(previous.reply_count && !inThread);
  const isBot = app.state && author === app.state.bot.user_id;
  const ctx = { surface: "message", channel: CHANNEL, ts: message.ts };
  const body = h("div", { class: "message-body" });
  if (ephemeral) {
    body.append(h("div", { class: "ephemeral-note" }, "👁 Only visible to you",
      message.local ? null : h("button", { class: "link-button", type: "button", text: "Dismiss", onclick: () => dismiss(message.ts) })));
  }
  if (!grouped || ephemeral) {
    body.append(h("div", { class: "meta" },
      h("span", { class: "author", text: message.local ? "Slackbot" : displayName(author) }),
      isBot ? h("span", { class: "app-badge", text: "APP" }) : null,
      h("time", { text: clock(message.ts), title: new Date(Number(message.ts) * 1000).toString() })));
  }
  if (message.blocks?.length) body.append(renderBlocks(message.blocks, ctx));
  else body.append(mrkdwn(message.text || ""));
  if (message.edited) body.append(h("span", { class: "edited", text: "(edited)" }));
  if (!inThread && message.reply_count) body.append(repliesLink(message));
  return h("div", {
    class: `message${grouped && !ephemeral ? " grouped" : ""}${ephemeral ? " ephemeral" : ""}`,
    "data-ts": message.ts,
    "data-user": author,
  }, avatar(message.local ? "slackbot" : author), body);
}

function repliesLink(message) {
  const n = message.reply_count;
  const faces = (message.reply_users || []).slice(0, 3).map((u) => avatar(u, true));
  return h("button", { class: "replies-link", type: "button", onclick: () => openThread(message.ts) },
    faces, `${n} ${n === 1 ? "reply" : "replies"}`,
    message.latest_reply ? h("span", { class: "last", text: `Last reply ${clock(message.latest_reply)}` }) : null);
}

function dismiss(ts) {
  app.dismissed.add(ts);
  drawChannel();
  drawThread();
}

function channelItems() {
  const roots = new Set(channelState().messages.map((m) => m.ts));
  const mine = myEphemerals()
    .filter((m) => !m.thread_ts || !roots.has(m.thread_ts))
    .map((m) => ({ ...m, ephemeral: true }));
  return [...channelState().messages, ...mine, ...app.notes].sort(byTs);
}

function drawChannel() {
  const items = channelItems();
  const key = JSON.stringify([app.user, items, app.state?.users]);
  if (app.drawn.channel === key) return;
  app.drawn.channel = key;
  const list = document.getElementById("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  if (!items.length) {
    list.replaceChildren(h("div", { class: "empty" },
      h("h2", { text: "#fluxori-ops" }),
      h("p", {}, "This is the very beginning of ", h("b", { text: "#fluxori-ops" }),
        ". Type ", h("code", { class: "inline-code", text: "/ops help" }), ", ",
        h("code", { class: "inline-code", text: "/ops status fluxori-backend" }),
        ", or fire a sample alert from the left.")));
    return;
  }
  list.replaceChildren(...items.map((m, i) => messageView(m, { previous: items[i - 1] })));
  if (nearBottom || app.scrollToEnd) list.scrollTop = list.scrollHeight;
  app.scrollToEnd = false;
}

function openThread(ts) {
  app.thread = ts;
  document.getElementById("thread").hidden = false;
  app.drawn.thread = "";
  drawThread();
}

function closeThread() {
  app.thread = "";
  document.getElementById("thread").hidden = true;
}

function drawThread() {
  if (!app.thread) return;
  const root = channelState().messages.find((m) => m.ts === app.thread);
  if (!root) {
    app.drawn.thread = "";
    document.getElementById("thread-messages").replaceChildren(
      h("p", { class: "empty", text: "That message is no longer in #fluxori-ops." }));
    return;
  }
  const mine = myEphemerals().filter((m) => m.thread_ts === app.thread).map((m) => ({ ...m, ephemeral: true }));
  const replies = [...(root.replies || []), ...mine].sort(byTs);
  const key = JSON.stringify([app.user, root, mine]);
  if (app.drawn.thread === key) return;
  app.drawn.thread = key;
  const list = document.getElementById("thread-messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const n = root.reply_count || 0;
  list.replaceChildren(
    messageView(root, { inThread: true }),
    h("div", { class: "thread-divider", text: `${n} ${n === 1 ? "reply" : "replies"}` }),
    ...replies.map((m, i) => messageView(m, { inThread: true, previous: replies[i - 1] })));
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

// -- App Home

async function showHome() {
  app.pane = "home";
  document.getElementById("channel-view").hidden = true;
  document.getElementById("home-view").hidden = false;
  document.getElementById("nav-home").classList.add("active");
  document.getElementById("nav-channel").classList.remove("active");
  app.drawn.home = "";
  drawHome();
  const answer = await postJson("/_sandbox/home", { user: app.user });
  if (!answer.ok) toast(`Opening the App Home: ${answer.error || "failed"}`, true);
  refresh();
}

function showChannel() {
  app.pane = "channel";
  document.getElementById("channel-view").hidden = false;
  document.getElementById("home-view").hidden = true;
  document.getElementById("nav-channel").classList.add("active");
  document.getElementById("nav-home").classList.remove("active");
}

function drawHome() {
  const viewId = (app.state?.home || {})[app.user];
  const view = viewId ? app.state.views[viewId] : null;
  const key = JSON.stringify([app.user, view?.hash || "", view?.blocks?.length || 0]);
  if (app.drawn.home === key) return;
  app.drawn.home = key;
  const home = document.getElementById("home");
  if (!view) {
    home.replaceChildren(h("p", { class: "empty", text: "Opening the App Home…" }));
    return;
  }
  home.replaceChildren(renderBlocks(view.blocks, { surface: "view", viewId: view.id }));
}

// -- modals (views.open / views.update / views.push)

function drawModal() {
  const layer = document.getElementById("modal-layer");
  const view = app.modals[app.modals.length - 1];
  if (!view) {
    app.drawn.modal = "";
    layer.hidden = true;
    layer.replaceChildren();
    return;
  }
  const key = `${view.id}:${view.hash}`;
  if (app.drawn.modal !== key) {
    app.drawn.modal = key;
    layer.replaceChildren(modalDialog(view));
    layer.hidden = false;
  }
  showFieldErrors(layer, view.errors || {});
}

function modalDialog(view) {
  const ctx = { surface: "view", viewId: view.id, errors: view.errors || {} };
  const submit = view.submit
    ? h("button", { class: "dialog-button primary", type: "submit", text: plain(view.submit) })
    : null;
  const form = h("form", { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": plain(view.title), "data-view-id": view.id },
    h("header", {}, h("h2", { text: plain(view.title) }),
      h("button", { class: "icon-button", type: "button", "aria-label": "Close", text: "×", onclick: () => closeModal(view) })),
    h("div", { class: "dialog-body" }, renderBlocks(view.blocks, ctx)),
    h("footer", {}, h("span", { class: "footer-error", role: "alert" }),
      h("button", { class: "dialog-button", type: "button", text: plain(view.close) || "Cancel", onclick: () => closeModal(view) }),
      submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitModal(view, form);
  });
  return form;
}

function showFieldErrors(layer, errors) {
  for (const blockEl of layer.querySelectorAll(".input-block")) {
    const message = errors[blockEl.dataset.blockId] || "";
    blockEl.classList.toggle("has-error", Boolean(message));
    const slot = blockEl.querySelector(".field-error");
    slot.textContent = message;
    slot.hidden = !message;
  }
}

async function submitModal(view, form) {
  const values = {};
  for (const field of form.querySelectorAll("[data-input]")) values[field.dataset.input] = inputValue(field);
  const button = form.querySelector("button[type=submit]");
  const footerError = form.querySelector(".footer-error");
  button.disabled = true;
  footerError.textContent = "";
  const answer = await postJson("/_sandbox/view/submit", { user: app.user, view_id: view.id, values });
  button.disabled = false;
  if (!answer.ok) footerError.textContent = answer.error || "The bot did not accept the form.";
  refresh();
}

async function closeModal(view) {
  const answer = await postJson("/_sandbox/view/close", { user: app.user, view_id: view.id });
  if (!answer.ok) toast(`Closing the form: ${answer.error}`, true);
  refresh();
}

// -- the composer: /ops with its verbs listed as you type

function suggestionsFor(text) {
  if (/^\/\S*$/.test(text) && "/ops".startsWith(text)) {
    return { heading: "Commands", items: [{ insert: "/ops ", name: "/ops", usage: "[verb]", about: "Fluxori ops bot" }] };
  }
  const verb = /^\/ops\s+(\S*)$/.exec(text);
  if (verb) {
    const items = app.grammar.verbs.filter(({ name }) => name.startsWith(verb[1].toLowerCase()))
      .map(({ name, usage, about }) => ({ insert: `/ops ${name} `, name, usage, about }));
    return { heading: "/ops verbs", items };
  }
  const service = /^\/ops\s+(\S+)\s+(\S*)$/.exec(text);
  if (service && app.grammar.verbs.some((v) => v.name === service[1] && v.takes_service)) {
    const names = [...new Set((app.gcp?.services || []).map((s) => s.name.split("/").pop()))];
    const items = names.filter((n) => n.startsWith(service[2]))
      .map((n) => ({ insert: `/ops ${service[1]} ${n} `, name: n, usage: "", about: "service" }));
    return { heading: "Services", items };
  }
  const preset = /^\/ops\s+logs\s+(\S+)\s+(\S*)$/.exec(text);
  if (preset) {
    const items = app.grammar.presets.filter((p) => p.startsWith(preset[2]))
      .map((p) => ({ insert: `/ops logs ${preset[1]} ${p} `, name: p, usage: "", about: "runbook query" }));
    return { heading: "Log presets", items };
  }
  return { heading: "", items: [] };
}

function drawSuggestions() {
  const box = document.getElementById("suggestions");
  const text = document.getElementById("composer-input").value;
  const { heading, items } = suggestionsFor(text);
  const exact = items.length === 1 && items[0].insert.trim() === text.trim();
  app.suggestion.items = exact ? [] : items;
  app.suggestion.index = Math.min(app.suggestion.index, Math.max(items.length - 1, 0));
  if (!app.suggestion.items.length) {
    box.hidden = true;
    return;
  }
  box.replaceChildren(h("div", { class: "heading", text: heading }),
    ...items.map((item, i) => h("div", {
      class: "suggestion",
      role: "option",
      "aria-selected": String(i === app.suggestion.index),
      "data-verb": item.name,
      onmousedown: (event) => { event.preventDefault(); complete(item); },
    }, h("span", { class: "name", text: item.name }), h("span", { class: "usage", text: item.usage }),
    h("span", { class: "about", text: item.about }))));
  box.hidden = false;
}

function complete(item) {
  const field = document.getElementById("composer-input");
  field.value = item.insert;
  field.focus();
  app.suggestion.index = 0;
  drawSuggestions();
}

function onComposerKey(event) {
  const { items } = app.suggestion;
  const open = items.length > 0 && !document.getElementById("suggestions").hidden;
  if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    app.suggestion.index = (app.suggestion.index + step + items.length) % items.length;
    drawSuggestions();
  } else if (open && event.key === "Tab") {
    event.preventDefault();
    complete(items[app.suggestion.index]);
  } else if (event.key === "Escape") {
    document.getElementById("suggestions").hidden = true;
  } else if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    const chosen = open ? items[app.suggestion.index] : null;
    if (chosen && !event.target.value.trim().startsWith(chosen.insert.trim())) complete(chosen);
    else sendCommand();
  }
}

async function sendCommand() {
  const field = document.getElementById("composer-input");
  const status = document.getElementById("composer-status");
  const text = field.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) {
    note("The bot listens to slash commands here: try `/ops help`.");
    return;
  }
  field.value = "";
  drawSuggestions();
  status.className = "composer-status";
  status.textContent = `Sending ${text} as ${firstName(app.user)}…`;
  const answer = await postJson("/_sandbox/command", { user: app.user, text });
  if (answer.ok) {
    status.textContent = `${text}: the bot answered ${answer.status} in ${answer.elapsed}s`;
  } else {
    status.className = "composer-status error";
    status.textContent = `${text}: ${answer.error || "failed"}`;
    note(`\`${text}\` failed: ${answer.error || "no answer"}`);
  }
  app.scrollToEnd = true;
  refresh();
}

function note(text) {
  app.notes.push({ ts: (Date.now() / 1000).toFixed(6), text, ephemeral: true, local: true, user: "slackbot" });
  drawChannel();
}

// -- who is acting

function drawUsers() {
  const box = document.getElementById("users");
  const key = JSON.stringify([app.user, app.members, app.state?.users?.length]);
  if (app.drawn.users === key) return;
  app.drawn.users = key;
  box.replaceChildren(...app.members.map((id) => h("button", {
    class: "user-chip",
    type: "button",
    role: "radio",
    "aria-checked": String(id === app.user),
    "aria-label": firstName(id),
    "data-user": id,
    onclick: () => switchUser(id),
  }, avatar(id, true), firstName(id))));
  document.getElementById("me").replaceChildren(avatar(app.user, true), `Acting as ${displayName(app.user)}`);
}

function switchUser(id) {
  app.user = id;
  localStorage.setItem("sandbox-user", id);
  app.drawn = {};
  drawAll();
  if (app.pane === "home") showHome();
  else refresh();
}

// -- the emulated Google Cloud

function drawGcp() {
  const key = JSON.stringify(app.gcp);
  if (!app.gcp || app.drawn.gcp === key) return;
  app.drawn.gcp = key;
  const byProject = {};
  for (const service of app.gcp.services) {
    const [, project, , , , name] = service.name.split("/");
    (byProject[project] ||= []).push({ ...service, short: name, project });
  }
  const projects = [...new Set([...PROJECT_ORDER, ...Object.keys(byProject), ...Object.keys(app.gcp.secrets)])]
    .filter((p) => byProject[p] || app.gcp.secrets[p]);
  for (const project of projects) { // a project that changes opens, so the change is seen
    const seen = JSON.stringify([byProject[project], app.gcp.secrets[project], app.gcp.databases?.[project]]);
    const before = app.gcpSeen[project];
    if (before !== undefined && before !== seen) app.gcpOpen.add(project);
    app.gcpSeen[project] = seen;
  }
  document.getElementById("gcp-body").replaceChildren(...projects.map((project) => {
    const details = h("details", { open: app.gcpOpen.has(project), "data-project": project },
      h("summary", {}, project, h("span", { class: "env", text: "africa-south1" })),
      (byProject[project] || []).map(serviceView),
      secretView(project, app.gcp.secrets[project] || []),
      databaseView(project, app.gcp.databases?.[project]));
    details.addEventListener("toggle", () => {
      if (details.open) app.gcpOpen.add(project); else app.gcpOpen.delete(project);
    });
    return details;
  }));
}

function flashIfChanged(el, id, value) {
  const seen = JSON.stringify(value);
  if (app.gcpSeen[id] !== undefined && app.gcpSeen[id] !== seen) el.classList.add("changed");
  app.gcpSeen[id] = seen;
  return el;
}

function serviceView(service) {
  const split = Object.entries(service.split);
  const bar = h("div", { class: "traffic-bar" }, split.map(([, percent], i) =>
    h("span", { style: `width:${percent}%;background:${TRAFFIC_COLORS[i % TRAFFIC_COLORS.length]}` })));
  const traffic = h("div", { class: "traffic", "data-testid": "traffic" },
    split.map(([name, percent]) => `${name} ${percent}%`).join(", ") || "no traffic");
  const revisions = h("div", { class: "revisions" }, service.revisions.map((r) =>
    h("span", { class: `rev${service.split[r] ? " serving" : ""}`, title: r, text: r.replace(`${service.short}-`, "") })));
  const id = `${service.project}/${service.short}`;
  const scaling = `min ${service.min} · max ${service.max} · ${service.memory || "?"} · ${service.cpu || "?"} CPU · ${service.concurrency} per instance`;
  return h("section", { class: "service", "data-service": id },
    h("h3", { text: service.short }),
    flashIfChanged(h("div", {}, h("div", { class: "row" }, h("span", { class: "label", text: "Traffic" }), traffic), bar), `${id}:split`, service.split),
    flashIfChanged(h("div", { class: "row" }, h("span", { class: "label", text: "Revisions" }), revisions), `${id}:revs`, service.revisions),
    flashIfChanged(h("div", { class: "row scaling", "data-testid": "scaling" }, h("span", { class: "label", text: "Scaling" }), scaling), `${id}:scaling`, scaling),
    flashIfChanged(h("div", { class: "row", "data-testid": "slos" }, h("span", { class: "label", text: "SLOs" }), (service.slos || []).join(", ") || "none"), `${id}:slos`, service.slos));
}

function secretView(project, versions) {
  const chips = versions.map(([version, state]) =>
    h("span", { class: `version ${state}`, title: state.toLowerCase(), text: `v${version} ${state.toLowerCase()}` }));
  return flashIfChanged(h("section", { class: "secret", "data-secret": `${project}/jwt-secret` },
    h("h3", { text: "jwt-secret" }), h("div", { class: "revisions" }, chips)), `${project}:secret`, versions);
}

function databaseView(project, db) {
  if (!db) return h("span");
  const indexes = db.indexes.map((i) =>
    h("div", { class: `index ${i.state}`, "data-testid": "index", text: `${i.collection}: ${i.fields} · ${i.state}` }));
  const exports = db.exports.map((e) =>
    h("div", { class: "export", "data-testid": "export", text: `${e.date} · ${(e.size / 1e6).toFixed(1)} MB${e.complete ? "" : " · incomplete"}` }));
  return flashIfChanged(h("section", { class: "secret", "data-database": project },
    h("h3", { text: "Firestore indexes" }), h("div", {}, indexes),
    h("h3", { text: `Exports in gs://${project}-backup/firestore/` }), h("div", {}, exports)), `${project}:database`, db);
}

// -- alerts panel

async function fireAlert(button) {
  const status = document.getElementById("alert-status");
  const sample = button.dataset.sample;
  button.disabled = true;
  status.className = "side-status";
  status.textContent = `Pushing ${sample}…`;
  const answer = await postJson("/_sandbox/alert", { sample });
  button.disabled = false;
  status.className = `side-status${answer.ok ? "" : " error"}`;
  status.textContent = answer.ok
    ? `${sample}: the bot answered ${answer.status}`
    : `${sample}: ${answer.error || `the bot answered ${answer.status}: ${answer.detail || ""}`}`;
  app.scrollToEnd = true;
  refresh();
}

// -- problems Slack would have shown

function drawProblems() {
  const problems = app.state?.problems || [];
  const toggle = document.getElementById("problems-toggle");
  toggle.hidden = problems.length === 0;
  toggle.textContent = `⚠ ${problems.length} Slack problem${problems.length === 1 ? "" : "s"}`;
  const key = JSON.stringify(problems);
  if (app.drawn.problems === key) return;
  app.drawn.problems = key;
  document.getElementById("problems").replaceChildren(h("b", { text: "What real Slack would have refused or shown as an error:" }),
    h("ul", {}, problems.map((p) => h("li", { text: p }))));
}

// -- polling

function drawAll() {
  drawUsers();
  drawChannel();
  drawThread();
  if (app.pane === "home") drawHome();
  drawModal();
  drawGcp();
  drawProblems();
}

async function refresh() {
  const seq = ++app.refreshSeq;
  const user = app.user;
  try {
    const [state, gcp, modals] = await Promise.all([
      getJson("/_emulator/state"),
      getJson("/_sandbox/gcp"),
      getJson(`/_sandbox/modals?user=${encodeURIComponent(user)}`),
    ]);
    if (seq < app.drawnSeq || user !== app.user) return; // a newer answer was already drawn
    app.drawnSeq = seq;
    Object.assign(app, { state, gcp, modals: modals.views });
    document.getElementById("offline").hidden = true;
    drawAll();
  } catch (err) {
    const offline = document.getElementById("offline");
    offline.textContent = `Lost the sandbox (${err.message}). Is \`make run\` still running?`;
    offline.hidden = false;
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, POLL_MS);
}

async function start() {
  const composer = document.getElementById("composer");
  const field = document.getElementById("composer-input");
  composer.addEventListener("submit", (event) => { event.preventDefault(); sendCommand(); });
  field.addEventListener("input", () => { app.suggestion.index = 0; drawSuggestions(); });
  field.addEventListener("keydown", onComposerKey);
  field.addEventListener("blur", () => { document.getElementById("suggestions").hidden = true; });
  document.getElementById("thread-close").addEventListener("click", closeThread);
  document.getElementById("nav-channel").addEventListener("click", showChannel);
  document.getElementById("nav-home").addEventListener("click", showHome);
  document.getElementById("problems-toggle").addEventListener("click", () => {
    const box = document.getElementById("problems");
    box.hidden = !box.hidden;
  });
  for (const button of document.querySelectorAll("[data-sample]")) {
    button.addEventListener("click", () => fireAlert(button));
  }
  try {
    app.members = (await getJson(`/_sandbox/members?channel=${CHANNEL}`)).members;
  } catch {
    app.members = ["U_ALICE", "U_BOB", "U_CAROL"];
  }
  if (!app.members.includes(app.user)) app.user = app.members[0];
  try {
    app.emoji = new Map(Object.entries((await getJson("/emoji.json")).shortcodes));
  } catch {
    toast("Could not read the emoji table: shortcodes show as text.", true);
  }
  try {
    app.grammar = await getJson("/_sandbox/commands");
  } catch {
    toast("Could not read the /ops commands; typing still works, without suggestions.", true);
  }
  app.scrollToEnd = true;
  poll();
}

start();
