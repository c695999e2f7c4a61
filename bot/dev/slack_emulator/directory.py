"""Who and where: auth.test, users.info, usergroups.users.list, conversations.info and
conversations.list."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.dev.slack_emulator.chat import existing_channel
from bot.dev.slack_emulator.errors import ApiError
from bot.dev.slack_emulator.seed import UserSeed
from bot.dev.slack_emulator.state import Channel, Workspace

Json = dict[str, Any]


def auth_test(ws: Workspace, args: Json) -> Json:
    del args
    seed = ws.seed
    return {
        "url": seed.url,
        "team": seed.team_name,
        "user": seed.bot_name,
        "team_id": seed.team_id,
        "user_id": seed.bot_user_id,
        "bot_id": seed.bot_id,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, args: Json) -> Json:
    user_id = str(args.get("user") or "")
    if user_id == ws.seed.bot_user_id:
        return {"user": _bot_user(ws)}
    if user_id not in ws.users:
        raise ApiError("user_not_found")
    return {"user": _person(ws, ws.users[user_id])}


def usergroup_users(ws: Workspace, args: Json) -> Json:
    group = ws.usergroups.get(str(args.get("usergroup") or ""))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group.users)}


def conversation_info(ws: Workspace, args: Json) -> Json:
    channel = existing_channel(ws, args)
    info = _conversation(ws, channel)
    if str(args.get("include_num_members", "")).lower() in ("1", "true"):
        info["num_members"] = len(channel.members)
    return {"channel": info}


def conversation_list(ws: Workspace, args: Json) -> Json:
    """conversations.list (https://docs.slack.dev/reference/methods/conversations.list):
    `types` defaults to public_channel; `limit` defaults to 100 and is at most 1000; pages
    follow `response_metadata.next_cursor`, empty on the last page. Private channels are
    listed only to their members, as `groups:read` allows."""
    types = _list_types(args)
    archived_too = str(args.get("exclude_archived", "")).lower() not in ("1", "true")
    listed = [
        channel
        for channel in ws.channels.values()
        if ("private_channel" if channel.is_private else "public_channel") in types
        and (not channel.is_private or ws.bot_is_member(channel))
        and (archived_too or not channel.is_archived)
    ]
    start, limit = _cursor(args), _list_limit(args)
    page = listed[start : start + limit]
    more = start + limit < len(listed)
    return {
        "channels": [_conversation(ws, c) for c in page],
        "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
    }


def _conversation(ws: Workspace, channel: Channel) -> Json:
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": not channel.is_private,
        "is_group": channel.is_private,
        "is_im": False,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_general": channel.name == "general",
        "is_member": ws.bot_is_member(channel),
        "created": channel.created,
        "creator": next(iter(ws.users), ""),
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
    }


def _list_types(args: Json) -> set[str]:
    types = {t.strip() for t in str(args.get("types") or "public_channel").split(",")}
    if not types <= {"public_channel", "private_channel", "mpim", "im"}:
        raise ApiError("invalid_types")
    return types


def _list_limit(args: Json) -> int:
    try:
        limit = int(args.get("limit") or 100)
    except ValueError:
        raise ApiError("invalid_limit") from None
    if not 0 < limit <= 1000:
        raise ApiError("invalid_limit")
    return limit


def _cursor(args: Json) -> int:
    cursor = str(args.get("cursor") or "")
    if not cursor:
        return 0
    try:
        kind, _, start = base64.b64decode(cursor, validate=True).decode().partition(":")
    except ValueError:
        raise ApiError("invalid_cursor") from None
    if kind != "channel" or not start.isdigit():
        raise ApiError("invalid_cursor")
    return int(start)


def _encode_cursor(start: int) -> str:
    return base64.b64encode(f"channel:{start}".encode()).decode()


def _person(ws: Workspace, user: UserSeed) -> Json:
    label, offset = _zone(user.tz)
    first, _, last = user.real_name.partition(" ")
    return {
        "id": user.id,
        "team_id": ws.seed.team_id,
        "name": user.name,
        "real_name": user.real_name,
        "deleted": False,
        "is_bot": False,
        "is_admin": False,
        "tz": user.tz,
        "tz_label": label,
        "tz_offset": offset,
        "profile": {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "first_name": first,
            "last_name": last,
            "team": ws.seed.team_id,
        },
    }


def _bot_user(ws: Workspace) -> Json:
    seed = ws.seed
    return {
        "id": seed.bot_user_id,
        "team_id": seed.team_id,
        "name": seed.bot_name,
        "real_name": seed.bot_real_name,
        "deleted": False,
        "is_bot": True,
        "profile": {"real_name": seed.bot_real_name, "bot_id": seed.bot_id, "team": seed.team_id},
    }


def _zone(name: str) -> tuple[str, int]:
    """Slack's tz_label and tz_offset (seconds east of UTC) for a zone, now."""
    try:
        now = datetime.now(UTC).astimezone(ZoneInfo(name))
    except ZoneInfoNotFoundError:
        return name, 0
    offset = now.utcoffset()
    return now.tzname() or name, int(offset.total_seconds()) if offset else 0


METHODS: dict[str, Callable[[Workspace, Json], Json]] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "usergroups.users.list": usergroup_users,
    "conversations.info": conversation_info,
    "conversations.list": conversation_list,
}
