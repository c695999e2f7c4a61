"""A cold start loads what acknowledgements need, and the rest after the server is ready: the
actions' code, the alert intake and the Google clients load on first use or in the warm-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import registry
from bot.container import LOADED_LATER
from gcp.lazy import lazy, modules_of, warm_up
from tests.support.stack import BOT_TOKEN, OPS_CHANNEL, SIGNING_SECRET

# What `python -m bot serve` loads before gunicorn forks, and what its worker builds; then
# the warm-up. A fresh interpreter: the test process has loaded everything long since.
PROGRAM = """
import json, os, sys
import bot.__main__
from bot import container
from bot.changes import maintenance
from bot.runtime.server import serve
from bot.settings import Settings

bot = container.build(Settings.from_environ(os.environ))
bot.wsgi()
serving = sorted(sys.modules)
bot.warm_up(0).join(timeout=60)
warmed = sorted(sys.modules)
run_built = type(bot.deps.platform.run._target).__name__
print(json.dumps({"serving": serving, "warmed": warmed, "run": run_built}))
"""


def loaded(tmp_path: Path) -> dict[str, Any]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_OPS_CHANNEL": OPS_CHANNEL,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing is asked of Slack at start-up
        "GCP_EMULATOR_HOST": "127.0.0.1:9",
        "BOT_STORE": f"sqlite:{tmp_path / 'a.sqlite'}",
        "LOG_LEVEL": "ERROR",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


def action_modules() -> set[str]:
    """The module of every registered action's code: its change steps or its answer."""
    paths = [action.change for action in registry.ACTIONS.values() if action.change]
    paths += [
        a.answer.path for a in registry.ACTIONS.values() if isinstance(a.answer, registry.Read)
    ]
    return {path.rsplit(".", 1)[0] for path in paths}


def test_the_server_is_ready_before_the_actions_code_loads_and_the_warm_up_loads_it(
    tmp_path: Path,
) -> None:
    found = loaded(tmp_path)
    serving, warmed = set(found["serving"]), set(found["warmed"])
    acknowledging = {"bot.ops.history"}  # a history command's filters are checked in its ack
    later = action_modules() - acknowledging
    later |= {"bot.alerts.intake", "bot.alerts.evidence", "gcp.models", "handlers.why"}
    assert serving & later == set()
    assert not any(name.startswith("google.cloud.run") for name in serving)
    assert set(modules_of(LOADED_LATER)) <= warmed
    assert later <= warmed
    assert found["run"] == "CloudRunAdapter"  # the Google clients are built too


def test_a_warm_up_step_that_fails_leaves_the_others_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that cannot be built (no credentials, say) is logged and built again on first
    use; the modules after it are loaded all the same."""
    package = tmp_path / "warmed_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "after_a_failure.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = lazy("no_such_module_here", "Adapter")
    warm_up([broken], 0, ["warmed_package"]).join(timeout=30)
    assert sys.modules["warmed_package.after_a_failure"].LOADED
    with pytest.raises(ModuleNotFoundError):
        broken.anything  # noqa: B018  first use raises it where it is used
