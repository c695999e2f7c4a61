"""Block Kit as plain dicts, kept inside Slack's limits (long text is cut with a note).

Text from outside the bot (alert fields, log lines, Google's messages, what a user typed) is
data, never markup: it goes through `escape`, `code`, `code_block` or `link`, which escape
Slack's three control characters as documented in
https://api.slack.com/reference/surfaces/formatting#escaping, so `<!channel>` or
`<https://evil|Cloud Console>` arrive as visible text. In code spans and blocks a backtick
from outside becomes the look-alike U+02CB (modifier letter grave accent) so it cannot end
the span early; copied text differs there, one reason log answers also link to the Logs
Explorer. Links from outside are only made for the hosts given (`Hosts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

Block = dict[str, Any]

MAX_BLOCKS = 50
ANSWER_BLOCKS = MAX_BLOCKS - 1  # an answer's message starts with who asked for it
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_ECHO = 200  # outside text quoted back (a command, a value, a name) is cut to this
TRUNCATED = "…"
BACKTICK_LOOKALIKE = "\u02cb"
_UNSAFE_IN_URL = re.compile(r"[\s<>|\"`\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Hosts:
    """Where a link may point: exact host names; a name starting with "." allows its
    subdomains. `description` names them in the note shown instead of a refused link."""

    description: str
    names: frozenset[str]

    def allow(self, url: str) -> bool:
        if _UNSAFE_IN_URL.search(url):
            return False
        parts = urlsplit(url)
        host = parts.netloc
        if parts.scheme != "https" or "@" in host or ":" in host:  # no user info, no port
            return False
        return any(host == n or (n.startswith(".") and host.endswith(n)) for n in self.names)


CONSOLE = Hosts("Google Cloud console", frozenset({"console.cloud.google.com"}))
CLOUD_RUN = Hosts("Cloud Run service", frozenset({".run.app"}))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER)}}


def section(text: str, fields: list[str] | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(clip(text, MAX_SECTION_TEXT))}
    if fields:
        block["fields"] = [mrkdwn(clip(f, MAX_FIELD_TEXT)) for f in fields[:MAX_FIELDS]]
    return block


def fields(items: list[str]) -> Block:
    return {
        "type": "section",
        "fields": [mrkdwn(clip(f, MAX_FIELD_TEXT)) for f in items[:MAX_FIELDS]],
    }


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [mrkdwn(clip(t, MAX_SECTION_TEXT)) for t in texts[:MAX_CONTEXT_ELEMENTS]],
    }


def names(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`: each once, in order."""
    once = list(dict.fromkeys(items))
    return " and ".join([", ".join(once[:-1]), once[-1]] if len(once) > 1 else once)


def divider() -> Block:
    return {"type": "divider"}


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text or " "}


def button(
    text: str,
    action_id: str,
    value: str,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT)},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def code(text: str, limit: int = MAX_ECHO) -> str:
    """Outside text as an inline code span: one line, escaped, at most `limit` characters."""
    one_line = " ".join(text.splitlines())
    return "`" + (escape_clipped(_no_backticks(one_line), limit) or " ") + "`"


def code_block(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    """Outside text as a code block whose total length stays within `limit`."""
    return "```" + (escape_clipped(_no_backticks(text), limit - 6) or " ") + "```"


def _no_backticks(text: str) -> str:
    return text.replace("`", BACKTICK_LOOKALIKE)


def slack_date(when: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """Slack's date formatting: each reader sees it in their own time zone."""
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{style}|{fallback}>"


def link(url: str, label: str, allowed: Hosts) -> str:
    """`label` linking to `url` when it is an https address on an `allowed` host; otherwise
    both as plain text with a note, so a link from outside cannot pose as the console."""
    shown = escape_clipped(" ".join(label.splitlines()), MAX_ECHO)
    if allowed.allow(url):
        return f"<{escape(url)}|{shown}>"
    return f"{shown} {code(url)} _(link not shown: not a {allowed.description} address)_"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_once(text: str) -> str:
    """Stored text that may or may not be escaped already, escaped exactly once."""
    return escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def escape_clipped(text: str, limit: int = MAX_ECHO) -> str:
    """Escaped text of at most `limit` characters, never cut inside an entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - len(TRUNCATED)]
    amp = cut.rfind("&", max(0, len(cut) - 4))  # an entity is at most 5 characters long
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + TRUNCATED


def fit(
    blocks: list[Block], note: str = "Output truncated to fit in Slack.", limit: int = ANSWER_BLOCKS
) -> list[Block]:
    """Keep within `limit` blocks (an answer's share of Slack's 50), replacing the tail with
    a note."""
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context(f":scissors: {note}")]


def plain_fallback(blocks: list[Block], default: str) -> str:
    """The notification text (mrkdwn) for a message: its header or first section."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text", "").strip():
            if text.get("type") == "plain_text":
                return escape_clipped(str(text["text"]), 300)
            return clip(str(text["text"]), 300)
    return default
