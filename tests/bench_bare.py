"""The floor for the benchmark: a Bolt app that only acks `/ops`, on the same server stack."""

from __future__ import annotations

import argparse
import os
import tempfile

from slack_bolt import App
from slack_sdk import WebClient

from bot.runtime.server import serve
from bot.runtime.slack_http import slack_route
from bot.runtime.web import wsgi_app
from bot.store.sqlite import SqliteStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    def load():  # type: ignore[no-untyped-def]
        client = WebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        )
        app = App(
            signing_secret=os.environ["SLACK_SIGNING_SECRET"],
            client=client,
            token_verification_enabled=False,
            process_before_response=True,
        )
        app.command("/ops")(lambda ack: ack())
        # The same HTTP edge as the bot's, replay check included.
        store = SqliteStore(os.path.join(tempfile.mkdtemp(), "bare.sqlite"))
        return wsgi_app(slack_route(app, os.environ["SLACK_SIGNING_SECRET"], store.first_seen))

    serve(load, args.port, lambda: None, host="127.0.0.1")


if __name__ == "__main__":
    main()
