"""Slack's emoji shortcodes for the sandbox page: a compact JSON table, shortcode -> character,
in the page's static folder (`static/emoji.json`, served as `GET /emoji.json`).

Slack's shortcodes are those of iamcal's emoji-data, published on npm as `emoji-datasource`:
its `emoji.json` lists each emoji's `short_names` and `unified` code points. The page loads
nothing from the network, so the table is generated from that package and committed:

    python -m bot.dev.emoji_table    # regenerates static/emoji.json with npm

tests/test_sandbox_page.py checks that the committed table is the one this makes.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from bot.dev.slack_emulator.routes import STATIC

SOURCE = "emoji-datasource@16.0.0"
TABLE = STATIC / "emoji.json"
SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
ROOT = Path(__file__).resolve().parents[2]


def emoji_data(workdir: Path) -> list[dict[str, Any]]:
    """`emoji.json` of the pinned emoji-datasource, fetched from the registry by npm."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed to read {SOURCE}; install Node.js and npm")
    packed = subprocess.run(  # noqa: S603 - npm with fixed arguments
        [npm, "pack", SOURCE, "--silent", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if packed.returncode != 0:
        raise RuntimeError(f"npm pack {SOURCE} failed: {packed.stderr.strip()}")
    (tarball,) = workdir.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/emoji.json")
        if member is None:
            raise RuntimeError(f"{SOURCE} has no package/emoji.json")
        data: list[dict[str, Any]] = json.load(member)
    return data


def shortcodes(data: list[dict[str, Any]]) -> dict[str, str]:
    """Every short name of every emoji, mapped to its fully qualified character sequence."""
    return {name: character(entry["unified"]) for entry in data for name in entry["short_names"]}


def character(unified: str) -> str:
    """The characters of `unified` code points: 1F6A8 -> 🚨, 0023-FE0F-20E3 -> #️⃣."""
    return "".join(chr(int(code, 16)) for code in unified.split("-"))


def table_text(codes: dict[str, str]) -> str:
    """The file's text: sorted, one line, the characters themselves (not \\u escapes)."""
    body = {"source": SOURCE, "shortcodes": dict(sorted(codes.items()))}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n"


def bot_sources() -> list[Path]:
    """The modules that write the bot's messages: bot/ (its dev tooling aside) and handlers/."""
    bot = [p for p in (ROOT / "bot").rglob("*.py") if "dev" not in p.relative_to(ROOT).parts]
    return bot + sorted((ROOT / "handlers").rglob("*.py"))


def shortcodes_written(sources: list[Path]) -> set[str]:
    """Every `:shortcode:` in the string literals (f-strings' text included) of `sources`."""
    found: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.update(SHORTCODE.findall(node.value))
    return found


def generate() -> str:
    with tempfile.TemporaryDirectory() as workdir:
        return table_text(shortcodes(emoji_data(Path(workdir))))


def main() -> None:
    try:
        text = generate()
    except RuntimeError as err:
        sys.exit(f"emoji_table: {err}")
    TABLE.write_text(text, encoding="utf-8")
    count = len(json.loads(text)["shortcodes"])
    sys.stdout.write(f"{TABLE.name}: {count} shortcodes from {SOURCE}\n")


if __name__ == "__main__":
    main()
