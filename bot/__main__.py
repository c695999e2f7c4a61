"""`python -m bot serve|sandbox|socket`: see DESIGN.md "Interfaces"."""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # Started as a program: no cyclic garbage collection while the modules load (gen-2 passes
    # over the growing heap were a third of the start-up CPU). `serve` freezes what loaded and
    # turns collection back on before gunicorn forks its worker, as the gc module's
    # documentation advises for pre-fork servers; the other modes turn it back on in `main`.
    gc.disable()

import argparse
import os
import sys
from dataclasses import replace

from bot import config as config_loader
from bot.errors import ConfigError
from bot.runtime import logs
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    sub = parser.add_subparsers(dest="mode", required=True)
    serve = sub.add_parser("serve", help="production HTTP server (Cloud Run sets PORT)")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--host", default="0.0.0.0", help="bind address (Cloud Run: 0.0.0.0)")
    sandbox = sub.add_parser("sandbox", help="everything local: emulators, bot, a web page")
    sandbox.add_argument("--port", type=int, default=3000)
    sub.add_parser("socket", help="Socket Mode, for a real workspace without a public URL")
    args = parser.parse_args(argv)
    if args.mode != "serve":
        gc.enable()
    try:
        if args.mode == "serve":
            return run_serve(args.port, args.host)
        if args.mode == "sandbox":
            return run_sandbox(args.port)
        from bot.runtime.socket_mode import run_socket

        return int(run_socket())
    except ConfigError as err:
        print(
            f"Cannot start: {len(err.problems)} problem(s) in the configuration:", file=sys.stderr
        )
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2


def run_sandbox(port: int) -> int:
    try:
        from bot.dev.sandbox import run_sandbox as run_dev_sandbox
    except ImportError:
        print(
            "The sandbox is a development tool, not part of this installation;"
            " run `make run` from a checkout of the repository.",
            file=sys.stderr,
        )
        return 2
    return int(run_dev_sandbox(port))


def run_serve(port: int | None, host: str = "0.0.0.0") -> int:
    settings = with_channel_id(Settings.from_environ(os.environ))  # fail before forking
    logs.configure(settings.log_level)
    from bot import container
    from bot.changes import maintenance
    from bot.runtime.server import DRAIN_SECONDS, serve

    built: list[container.Bot] = []

    def load():  # type: ignore[no-untyped-def]
        bot = container.build(settings)
        built.append(bot)
        bot.warm_up()
        if settings.jobs == "inline":  # with Pub/Sub jobs, Cloud Scheduler sends the sweeps
            maintenance.Ticker(bot.deps).start()
        return bot.wsgi()

    def on_exit() -> None:
        for bot in built:
            bot.deps.queue.drain(DRAIN_SECONDS)
            bot.close()

    serve(load, port or settings.port, on_exit, host=host, before_fork=_loaded)
    return 0


def _loaded() -> None:
    """Before the worker is forked: what has loaded is kept out of every later collection
    (and its memory pages shared with the worker), and collection is on again."""
    gc.freeze()
    gc.enable()


def with_channel_id(settings: Settings) -> Settings:
    """Settings whose channel is the configured one's id, looked up in Slack once here when it
    was given by name; raises ConfigError for a bad BOT_CONFIG or an unknown channel."""
    from bot.slack.messenger import web_client

    config = config_loader.load(settings.config_path, settings.ops_channel)
    slack = web_client(settings.slack_bot_token, settings.slack_api_url)
    channel = config_loader.resolve_channel(config, slack).channel
    return replace(settings, ops_channel=channel) if channel else settings


if __name__ == "__main__":
    sys.exit(main())
