"""Imports run one way: bot -> handlers -> gcp."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"gcp": ("bot", "handlers"), "handlers": ("bot", "slack_bolt", "slack_sdk")}
GOOGLE_CLIENTS = ("google.cloud", "google.api_core", "grpc")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upstream(package: str) -> None:
    """gcp imports neither bot nor handlers; handlers import no Slack library."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert offenders == []


def test_handlers_do_not_import_google_clients() -> None:
    """Handlers reach Google only through the gcp adapters."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "handlers").rglob("*.py")
        for name in imported_modules(path)
        if name.startswith(GOOGLE_CLIENTS)
    ]
    assert offenders == []


def test_the_emulator_keeps_its_own_rules() -> None:
    """gcp/emulator imports no other gcp module (not gcp.run_rules): it is an independent witness."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "gcp" / "emulator").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] == "gcp" and not name.startswith("gcp.emulator")
    ]
    assert offenders == []
