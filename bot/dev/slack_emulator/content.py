"""A message's text and blocks, checked as chat.* methods and response URLs check them."""

from __future__ import annotations

import copy
from typing import Any

from bot.dev.slack_emulator import blocks as bk
from bot.dev.slack_emulator.errors import ApiError

Json = dict[str, Any]


def message_content(args: Json) -> Json:
    """{"text", "blocks"?, "attachments"?} from the arguments; ApiError as Slack answers."""
    text = "" if args.get("text") is None else str(args["text"])
    content: Json = {"text": text}
    if args.get("blocks") is not None:
        content["blocks"] = checked_blocks(args["blocks"])
    if args.get("attachments"):
        content["attachments"] = copy.deepcopy(args["attachments"])
    if len(text) > bk.MESSAGE_TEXT:
        raise ApiError("msg_too_long")
    if not text and not content.get("blocks") and not content.get("attachments"):
        raise ApiError("no_text")
    return content


def checked_blocks(blocks: Any) -> list[Json]:
    if not bk.is_block_list(blocks):
        raise ApiError("invalid_blocks_format")
    found = bk.problems(blocks, bk.MESSAGE_BLOCKS)
    if found:
        raise ApiError(
            "invalid_blocks",
            errors=found,
            response_metadata={"messages": [f"[ERROR] {m}" for m in found]},
        )
    return bk.with_block_ids(copy.deepcopy(blocks))
