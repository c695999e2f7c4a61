"""What ships: the wheel (and so the image) holds production code only, never dev tooling."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ("bot.dev", "gcp.emulator")
LOCAL_ONLY = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "artifacts")


def test_wheel_holds_no_emulator_sandbox_or_sample(tmp_path: Path) -> None:
    """`pip wheel --no-deps .` packs bot, handlers and gcp without the dev packages (built from
    a clean copy: setuptools' build/ folder keeps files that no longer exist)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LOCAL_ONLY))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/runtime/server.py" in names
    assert "gcp/run.py" in names
    shipped_dev = [n for n in names if n.startswith(("bot/dev/", "gcp/emulator/"))]
    assert shipped_dev == []
    assert not [n for n in names if "sample" in n or "sandbox" in n]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_production_modules_never_import_dev_modules() -> None:
    """Outside bot/dev and gcp/emulator, nothing imports them (the CLI's sandbox entry point
    excepted: it says the sandbox is not installed when it is not)."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in ("bot", "handlers", "gcp")
        for path in (ROOT / package).rglob("*.py")
        if not path.relative_to(ROOT).as_posix().startswith(("bot/dev/", "gcp/emulator/"))
        and path != ROOT / "bot" / "__main__.py"
        for name in _imports(path)
        if name.startswith(DEV)
    ]
    assert offenders == []
