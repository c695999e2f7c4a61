"""Block Kit as plain dicts, kept inside Slack's limits (long text is cut with a note)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
TRUNCATED = "…"


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


def code(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    """A code block whose total length stays within `limit`."""
    return "```" + clip(text.replace("```", "'''"), limit - 6) + "```"


def slack_date(when: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """Slack's date formatting: each reader sees it in their own time zone."""
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{style}|{fallback}>"


def link(url: str, text: str) -> str:
    return f"<{url}|{escape(text)}>"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(blocks: list[Block], note: str = "Output truncated to fit in Slack.") -> list[Block]:
    """Keep within the 50-block limit, replacing the tail with a note."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    return [*blocks[: MAX_BLOCKS - 1], context(f":scissors: {note}")]


def plain_fallback(blocks: list[Block], default: str) -> str:
    """The notification text for a message: its header or first section."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text", "").strip():
            return clip(str(text["text"]), 300)
    return default
