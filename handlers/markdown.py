"""An alert policy's documentation (Markdown, as Cloud Monitoring delivers it in
`documentation.content`) as Slack mrkdwn: headings in bold, `**x**` as `*x*`, `*x*` and `_x_`
as `_x_`, lists kept, code spans and fenced blocks as code, `[label](url)` through `link`.

The text is written by whoever edits the policy, so it stays data: every piece outside the
markup goes through `blocks.escape`, `code`, `code_block` or `link`. Long text is cut at a
whole block, with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import blocks as bk

MAX_TEXT = 1500
CUT_NOTE = "_… the rest is on the incident's page._"
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    r"|(?P<b>\*\*|__)(?P<bold>.+?)(?P=b)"
    r"|~~(?P<strike>[^~\n]+)~~"
    r"|(?<![\w*])\*(?P<star>[^*\n]+)\*(?![\w*])"
    r"|(?<!\w)_(?P<under>[^_\n]+)_(?!\w)"
)
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(?P<text>.*?)[\s#]*$")
_ITEM = re.compile(r"^(?P<indent>\s*)(?P<mark>[-*+]|\d{1,9}[.)])\s+(?P<text>.*)$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass
class _Block:
    kind: str  # "heading" | "item" | "paragraph" | "code" | "blank"
    text: str
    mark: str = ""
    depth: int = 0


def to_mrkdwn(markdown: str, hosts: bk.Hosts, limit: int = MAX_TEXT) -> str:
    """The documentation as mrkdwn of at most about `limit` characters."""
    lines: list[str] = []
    used = 0
    for block in _blocks(markdown):
        rendered = _render(block, hosts)
        if used + len(rendered) > limit:
            if not lines:  # one block longer than the whole budget: its plain text, cut
                lines.append(bk.escape_clipped(" ".join(block.text.split()), limit))
            lines.append(CUT_NOTE)
            break
        lines.append(rendered)
        used += len(rendered) + 1
    return "\n".join(lines).strip("\n")


def _blocks(markdown: str) -> list[_Block]:
    """Markdown's block structure, simplified: a paragraph's lines joined as Markdown shows them."""
    blocks: list[_Block] = []
    fence: list[str] | None = None
    for line in markdown.splitlines():
        if fence is not None:
            if _FENCE.match(line):
                blocks.append(_Block("code", "\n".join(fence)))
                fence = None
            else:
                fence.append(line)
        elif _FENCE.match(line):
            fence = []
        else:
            _add_line(blocks, line)
    if fence is not None:  # an unclosed fence runs to the end, as in CommonMark
        blocks.append(_Block("code", "\n".join(fence)))
    return blocks


def _add_line(blocks: list[_Block], line: str) -> None:
    heading, item = _HEADING.match(line), _ITEM.match(line)
    last = blocks[-1] if blocks else None
    if not line.strip():
        blocks.append(_Block("blank", ""))
    elif heading:
        blocks.append(_Block("heading", heading["text"]))
    elif item:
        depth = len(item["indent"].expandtabs(4)) // 2
        blocks.append(_Block("item", item["text"], item["mark"], depth))
    elif last is not None and last.kind in ("paragraph", "item"):
        last.text += " " + line.strip()
    else:
        blocks.append(_Block("paragraph", line.strip()))


def _render(block: _Block, hosts: bk.Hosts) -> str:
    if block.kind == "heading":
        return f"*{inline(block.text.replace('**', '').replace('__', ''), hosts)}*"
    if block.kind == "item":
        mark = "•" if block.mark in "-*+" else block.mark.replace(")", ".")
        return f"{'    ' * block.depth}{mark} {inline(block.text, hosts)}"
    if block.kind == "code":
        return bk.code_block(block.text, MAX_TEXT)
    return inline(block.text, hosts)


def inline(text: str, hosts: bk.Hosts) -> str:
    """One line's emphasis, code and links as mrkdwn; everything else escaped."""
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        out.append(bk.escape(text[pos : match.start()]))
        out.append(_token(match, hosts))
        pos = match.end()
    out.append(bk.escape(text[pos:]))
    return "".join(out)


def _token(match: re.Match[str], hosts: bk.Hosts) -> str:
    if match["code"] is not None:
        return bk.code(match["code"])
    if match["url"] is not None:
        return bk.link(match["url"], match["label"], hosts)
    if match["bold"] is not None:
        return f"*{inline(match['bold'], hosts)}*"
    if match["strike"] is not None:
        return f"~{inline(match['strike'], hosts)}~"
    return f"_{inline(match['star'] or match['under'], hosts)}_"
