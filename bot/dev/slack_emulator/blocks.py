"""Block Kit limits as Slack enforces them; each broken limit yields Slack's message with its
JSON pointer, e.g. `must be less than 3001 characters [json-pointer:/blocks/0/text/text]`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from bot.dev.slack_emulator import ids

MESSAGE_BLOCKS = 50
SURFACE_BLOCKS = 100  # modals and App Home
MESSAGE_TEXT = 40_000
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
ACTION_ID = 255
BLOCK_ID = 255
BUTTON_VALUE = 2000
BUTTON_URL = 3000
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
INPUT_LABEL = 2000
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
KNOWN_BLOCKS = frozenset(
    (
        "section",
        "header",
        "divider",
        "actions",
        "context",
        "image",
        "input",
        "rich_text",
        "markdown",
        "video",
        "file",
    )
)


def is_block_list(blocks: Any) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(blocks, list) and all(isinstance(b, dict) for b in blocks)


def problems(blocks: list[dict[str, Any]], max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Every limit `blocks` breaks, in Slack's words; empty when Slack would accept them."""
    check = Check()
    if len(blocks) > max_blocks:
        check.fail(f"no more than {max_blocks} items allowed", pointer)
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        _block(check, block, where)
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            check.length(block_id, BLOCK_ID, f"{where}/block_id")
            if block_id in seen:
                check.fail(f"duplicate block_id `{block_id}`", f"{where}/block_id")
            seen.add(block_id)
    return check.found


class Check:
    def __init__(self) -> None:
        self.found: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.found.append(f"{message} [json-pointer:{pointer}]")

    def length(self, value: Any, limit: int, pointer: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"must be less than {limit + 1} characters", pointer)

    def count(self, items: Any, limit: int, pointer: str) -> list[Any]:
        if not isinstance(items, list) or not items:
            self.fail("must contain at least 1 item", pointer)
            return []
        if len(items) > limit:
            self.fail(f"no more than {limit} items allowed", pointer)
        return items

    def text(self, obj: Any, limit: int, pointer: str, plain_only: bool = False) -> None:
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if not isinstance(obj, dict) or obj.get("type") not in allowed:
            self.fail(f"must be a text object of type {' or '.join(allowed)}", pointer)
            return
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail("must be more than 0 characters", f"{pointer}/text")
            return
        self.length(text, limit, f"{pointer}/text")


def _block(check: Check, block: dict[str, Any], where: str) -> None:
    kind = block.get("type")
    if kind not in KNOWN_BLOCKS:
        check.fail(f"unsupported block type `{kind}`", f"{where}/type")
        return
    validate = _BY_TYPE.get(str(kind))
    if validate:
        validate(check, block, where)


def _header(check: Check, block: dict[str, Any], where: str) -> None:
    check.text(block.get("text"), HEADER_TEXT, f"{where}/text", plain_only=True)


def _actions(check: Check, block: dict[str, Any], where: str) -> None:
    elements = check.count(block.get("elements"), ACTIONS_ELEMENTS, f"{where}/elements")
    _elements(check, elements, f"{where}/elements")


def _context(check: Check, block: dict[str, Any], where: str) -> None:
    elements = check.count(block.get("elements"), CONTEXT_ELEMENTS, f"{where}/elements")
    for i, element in enumerate(elements):
        if not (isinstance(element, dict) and element.get("type") == "image"):
            check.text(element, SECTION_TEXT, f"{where}/elements/{i}")


def _input(check: Check, block: dict[str, Any], where: str) -> None:
    check.text(block.get("label"), INPUT_LABEL, f"{where}/label", plain_only=True)
    _element(check, block.get("element"), f"{where}/element")


def _section(check: Check, block: dict[str, Any], where: str) -> None:
    if "text" not in block and "fields" not in block:
        check.fail("must provide either text or fields", where)
    if "text" in block:
        check.text(block["text"], SECTION_TEXT, f"{where}/text")
    if "fields" in block:
        fields = check.count(block["fields"], FIELDS, f"{where}/fields")
        for i, field in enumerate(fields):
            check.text(field, FIELD_TEXT, f"{where}/fields/{i}")
    if "accessory" in block:
        _element(check, block["accessory"], f"{where}/accessory")


def _elements(check: Check, elements: list[Any], where: str) -> None:
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        _element(check, element, f"{where}/{i}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                check.fail(f"duplicate action_id `{action_id}`", f"{where}/{i}/action_id")
            action_ids.add(action_id)


def _element(check: Check, element: Any, where: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        check.fail("must be a block element object", where)
        return
    check.length(element.get("action_id"), ACTION_ID, f"{where}/action_id")
    if element["type"] == "button":
        check.text(element.get("text"), BUTTON_TEXT, f"{where}/text", plain_only=True)
        check.length(element.get("value"), BUTTON_VALUE, f"{where}/value")
        check.length(element.get("url"), BUTTON_URL, f"{where}/url")
    for i, option in enumerate(element.get("options") or []):
        _option(check, option, f"{where}/options/{i}")
    if isinstance(element.get("options"), list) and len(element["options"]) > OPTIONS:
        check.fail(f"no more than {OPTIONS} items allowed", f"{where}/options")


def _option(check: Check, option: Any, where: str) -> None:
    if not isinstance(option, dict):
        check.fail("must be an option object", where)
        return
    check.text(option.get("text"), OPTION_TEXT, f"{where}/text")
    check.length(option.get("value"), OPTION_VALUE, f"{where}/value")


_BY_TYPE: dict[str, Callable[[Check, dict[str, Any], str], None]] = {
    "section": _section,
    "header": _header,
    "actions": _actions,
    "context": _context,
    "input": _input,
}


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy where every block has a block_id, as Slack stores and returns them."""
    return [{**block, "block_id": block.get("block_id") or ids.block_id()} for block in blocks]
