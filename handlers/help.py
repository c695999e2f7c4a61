"""`/ops help`: every verb with a one-line description and an example."""

from __future__ import annotations

from collections.abc import Mapping

from gcp.log_queries import PRESETS
from handlers import blocks as bk
from handlers.commands import Verb
from handlers.config import OpsConfig


def render(config: OpsConfig, verbs: Mapping[str, Verb]) -> list[bk.Block]:
    lines = [
        f"`/ops {v.usage}`{' :lock:' if v.mutating else ''}\n{v.summary} _e.g._ `{v.example}`"
        for v in verbs.values()
        if v.name != "help"
    ]
    envs = ", ".join(f"`{e}`" for e in config.environments)
    return [
        bk.header("Fluxori ops: /ops commands"),
        *[bk.section(line) for line in lines],
        bk.context(
            f"Every command takes `--env` ({envs}); default `{config.default_env}`."
            " :lock: = a change: you get a plan to confirm first.",
            "Log presets: " + ", ".join(f"`{p}`" for p in PRESETS),
        ),
    ]
