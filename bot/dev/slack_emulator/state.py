"""The emulated workspace: channels, messages and threads, ephemerals, views, triggers,
response URLs and the log of Web API calls. Every read and write holds `lock`."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.dev.slack_emulator import ids
from bot.dev.slack_emulator.seed import ChannelSeed, Seed, UsergroupSeed, UserSeed

Json = dict[str, Any]
TRIGGER_SECONDS = 3.0
RESPONSE_URL_SECONDS = 30 * 60
RESPONSE_URL_USES = 5


@dataclass
class Channel:
    id: str
    name: str
    members: set[str]
    is_archived: bool
    is_private: bool
    created: int

    @classmethod
    def from_seed(cls, seed: ChannelSeed, bot_user_id: str) -> Channel:
        members = set(seed.members) | ({bot_user_id} if seed.bot_is_member else set())
        return cls(seed.id, seed.name, members, seed.is_archived, seed.is_private, 1_600_000_000)


@dataclass
class View:
    id: str
    user: str
    body: Json  # the view object exactly as the Web API returns it
    closed: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # from response_action "errors"


@dataclass
class Trigger:
    user: str
    issued_at: float
    exchanged: bool = False


@dataclass
class ResponseTarget:
    """What a response_url answers: the command's channel, or the message an action came from."""

    kind: Literal["commands", "actions"]
    user: str
    channel: str
    issued_at: float
    message_ts: str = ""
    is_ephemeral: bool = False
    uses: int = 0


@dataclass(frozen=True)
class ApiCall:
    method: str
    args: Json
    status: int
    error: str = ""  # empty when the call succeeded

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


class Workspace:
    def __init__(self, seed: Seed, clock: ids.Clock = time.monotonic) -> None:
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.ts = ids.TsClock()
        self.users: dict[str, UserSeed] = {u.id: u for u in seed.users}
        self.usergroups: dict[str, UsergroupSeed] = {g.id: g for g in seed.usergroups}
        self.channels = {c.id: Channel.from_seed(c, seed.bot_user_id) for c in seed.channels}
        self.messages: dict[str, list[Json]] = {c: [] for c in self.channels}
        self.ephemerals: dict[str, list[Json]] = {}
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.responses: dict[str, ResponseTarget] = {}
        self.calls: list[ApiCall] = []
        self.problems: list[str] = []

    # -- channels and people

    def channel(self, ref: str) -> Channel | None:
        """By id, or by name as chat.postMessage accepts it ("#fluxori-ops" or "fluxori-ops")."""
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def bot_is_member(self, channel: Channel) -> bool:
        return self.seed.bot_user_id in channel.members

    def user_ref(self, user_id: str) -> Json:
        """The `user` object interactivity payloads carry."""
        name = self.users[user_id].name if user_id in self.users else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.seed.team_id}

    # -- channel messages and threads

    def bot_message(self, text: str, blocks: list[Json] | None) -> Json:
        message: Json = {
            "type": "message",
            "user": self.seed.bot_user_id,
            "bot_id": self.seed.bot_id,
            "app_id": self.seed.app_id,
            "team": self.seed.team_id,
            "text": text,
        }
        if blocks:
            message["blocks"] = blocks
        return message

    def thread_root(self, channel_id: str, ts: str) -> Json | None:
        """The thread a reply to `ts` joins: its own, or its root's when `ts` is a reply."""
        message = self.find_message(channel_id, ts)
        if message is None:
            return None
        return self.find_message(channel_id, message.get("thread_ts", ts)) or message

    def add_message(self, channel_id: str, message: Json, root: Json | None = None) -> Json:
        """Store with a fresh ts; a reply (to `root`) joins its thread and updates the root."""
        message["ts"] = self.ts.next()
        if root is not None:
            message["thread_ts"] = root["ts"]
            self._count_reply(root, message)
        self.messages[channel_id].append(message)
        return message

    def _count_reply(self, root: Json, reply: Json) -> None:
        users = list(dict.fromkeys([*root.get("reply_users", []), reply["user"]]))
        root.update(
            thread_ts=root["ts"],
            reply_count=root.get("reply_count", 0) + 1,
            reply_users=users,
            reply_users_count=len(users),
            latest_reply=reply["ts"],
        )

    def find_message(self, channel_id: str, ts: str) -> Json | None:
        return next((m for m in self.messages.get(channel_id, []) if m["ts"] == ts), None)

    def remove_message(self, channel_id: str, ts: str) -> None:
        self.messages[channel_id] = [m for m in self.messages[channel_id] if m["ts"] != ts]

    def top_level(self, channel_id: str) -> list[Json]:
        return [m for m in self.messages.get(channel_id, []) if _is_top_level(m)]

    def replies(self, channel_id: str, thread_ts: str) -> list[Json]:
        return [
            m
            for m in self.messages.get(channel_id, [])
            if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ]

    # -- ephemerals (only the user they were sent to sees them)

    def add_ephemeral(self, user: str, channel_id: str, message: Json, thread_ts: str = "") -> Json:
        message.update(ts=self.ts.next(), channel=channel_id)
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.ephemerals.setdefault(user, []).append(message)
        return message

    def find_ephemeral(self, user: str, ts: str) -> Json | None:
        return next((m for m in self.ephemerals.get(user, []) if m["ts"] == ts), None)

    def remove_ephemeral(self, user: str, ts: str) -> None:
        self.ephemerals[user] = [m for m in self.ephemerals.get(user, []) if m["ts"] != ts]

    # -- triggers and response URLs

    def issue_trigger(self, user: str) -> str:
        trigger = ids.trigger_id()
        self.triggers[trigger] = Trigger(user, self.clock())
        return trigger

    def issue_response_url(self, target: ResponseTarget) -> str:
        key = ids.short_id("", 12)
        self.responses[key] = target
        return key

    def note_problem(self, problem: str) -> None:
        """Something Slack would have refused or shown as an error to the user."""
        self.problems.append(problem)

    # -- reading out

    def snapshot(self) -> Json:
        """Everything a page or a test needs to show the workspace, as plain JSON."""
        seed = self.seed
        return copy.deepcopy(
            {
                "team": {"id": seed.team_id, "name": seed.team_name, "domain": seed.domain},
                "bot": {"user_id": seed.bot_user_id, "bot_id": seed.bot_id, "name": seed.bot_name},
                "users": [asdict(u) for u in self.users.values()],
                "usergroups": [asdict(g) for g in self.usergroups.values()],
                "channels": [self._channel_snapshot(c) for c in self.channels.values()],
                "ephemerals": self.ephemerals,
                "views": {v.id: self.view_snapshot(v) for v in self.views.values()},
                "home": self.homes,
                "problems": self.problems,
            }
        )

    def _channel_snapshot(self, channel: Channel) -> Json:
        return {
            "id": channel.id,
            "name": channel.name,
            "is_member": self.bot_is_member(channel),
            "is_archived": channel.is_archived,
            "messages": [
                {**m, "replies": self.replies(channel.id, m["ts"])}
                for m in self.top_level(channel.id)
            ],
        }

    def view_snapshot(self, view: View) -> Json:
        """A view as the user sees it: Slack's view object plus `closed` and shown `errors`."""
        return {"user": view.user, "closed": view.closed, "errors": view.errors, **view.body}


def _is_top_level(message: Json) -> bool:
    return bool(message.get("thread_ts", message["ts"]) == message["ts"])
