"""The floor for the benchmark: a Bolt app that only acks `/ops`, on the same server stack."""

from __future__ import annotations

import argparse
import os

from slack_bolt import App
from slack_sdk import WebClient

from bot.runtime.server import serve
from bot.runtime.web import wsgi_app


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
        return wsgi_app(app)

    serve(load, args.port, lambda: None, host="127.0.0.1")


if __name__ == "__main__":
    main()
