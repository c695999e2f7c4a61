"""The emulator's HTTP surface: the Web API under /api/, response URLs under /hooks/, JSON for
the sandbox page under /_emulator/, and the page's static files from "/"."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from bot.dev.slack_emulator import hooks
from bot.dev.slack_emulator.faults import Faults
from bot.dev.slack_emulator.server import Handler, Router, static_files
from bot.dev.slack_emulator.state import Workspace
from bot.dev.slack_emulator.webapi import WebApi
from bot.dev.slack_emulator.wire import Request, Response, json_response

STATIC = Path(__file__).with_name("static")  # the sandbox page's files, once it has some


def install(
    router: Router, ws: Workspace, webapi: WebApi, faults: Faults, static_dir: Path
) -> None:
    def web_api(request: Request) -> Response:
        return webapi.handle(request.path.removeprefix("/api/"), request)

    for verb in ("GET", "POST"):
        router.add(verb, "/api/", web_api)
    router.add("POST", "/hooks/", lambda request: hooks.handle(ws, faults, request))
    router.add("GET", "/_emulator/state", lambda _: _state(ws))
    router.add("GET", "/_emulator/calls", lambda request: _calls(ws, request))
    router.add("GET", "/", _page(static_dir))


def _state(ws: Workspace) -> Response:
    with ws.lock:
        return json_response(ws.snapshot())


def _calls(ws: Workspace, request: Request) -> Response:
    """The Web API call log, optionally one method's (?method=chat.postMessage)."""
    method = request.query.get("method", "")
    with ws.lock:
        calls = [asdict(c) for c in ws.calls if not method or c.method == method]
    return json_response({"calls": calls})


def _page(static_dir: Path) -> Handler:
    """Files from `static_dir`; until there is a page, "/" says where the state is."""
    files = static_files(static_dir, "/")

    def serve(request: Request) -> Response:
        if request.path == "/" and not (static_dir / "index.html").is_file():
            return json_response({"ok": True, "state": "/_emulator/state", "api": "/api/"})
        return files(request)

    return serve
