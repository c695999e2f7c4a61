"""chat.* and the conversation readers: post, reply in threads, update, delete, ephemerals,
permalinks, history. Each function takes the workspace (locked) and the call's arguments."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.dev.slack_emulator.content import message_content
from bot.dev.slack_emulator.errors import ApiError
from bot.dev.slack_emulator.state import Channel, Workspace

Json = dict[str, Any]


def post_message(ws: Workspace, args: Json) -> Json:
    channel = postable_channel(ws, args)
    content = message_content(args)
    root = None
    if args.get("thread_ts"):
        root = ws.thread_root(channel.id, str(args["thread_ts"]))
        if root is None:
            raise ApiError("invalid_thread_ts")
    message = ws.add_message(channel.id, ws.bot_message("", None) | content, root)
    return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}


def update(ws: Workspace, args: Json) -> Json:
    """Text and blocks left out keep their old values; an empty blocks list removes them."""
    channel = existing_channel(ws, args)
    message = _bot_message_at(ws, channel, args)
    content = message_content(args)
    if "text" in args:
        message["text"] = content["text"]
    if "blocks" in args:
        message.pop("blocks", None)
        if content.get("blocks"):
            message["blocks"] = content["blocks"]
    message["edited"] = {"user": ws.seed.bot_user_id, "ts": ws.ts.next()}
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def delete(ws: Workspace, args: Json) -> Json:
    channel = existing_channel(ws, args)
    message = _bot_message_at(ws, channel, args, refusal="cant_delete_message")
    ws.remove_message(channel.id, message["ts"])
    return {"channel": channel.id, "ts": message["ts"]}


def post_ephemeral(ws: Workspace, args: Json) -> Json:
    channel = postable_channel(ws, args)
    user = str(args.get("user") or "")
    if user not in ws.users:
        raise ApiError("user_not_found")
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    content = message_content(args)
    message = ws.bot_message("", None) | content
    ws.add_ephemeral(user, channel.id, message, str(args.get("thread_ts") or ""))
    return {"message_ts": message["ts"]}


def get_permalink(ws: Workspace, args: Json) -> Json:
    channel = existing_channel(ws, args)
    message = ws.find_message(channel.id, str(args.get("message_ts") or ""))
    if message is None:
        raise ApiError("message_not_found")
    link = f"{ws.seed.url}archives/{channel.id}/p{message['ts'].replace('.', '')}"
    thread_ts = message.get("thread_ts", message["ts"])
    if thread_ts != message["ts"]:
        link += f"?thread_ts={thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


def history(ws: Workspace, args: Json) -> Json:
    channel = readable_channel(ws, args)
    newest_first = list(reversed(ws.top_level(channel.id)))
    return {"messages": copy.deepcopy(newest_first[: _limit(args)]), "has_more": False}


def replies(ws: Workspace, args: Json) -> Json:
    channel = readable_channel(ws, args)
    root = ws.thread_root(channel.id, str(args.get("ts") or ""))
    if root is None:
        raise ApiError("thread_not_found")
    thread = [root, *ws.replies(channel.id, root["ts"])]
    return {"messages": copy.deepcopy(thread[: _limit(args)]), "has_more": False}


def existing_channel(ws: Workspace, args: Json, by_name: bool = False) -> Channel:
    """The channel `args["channel"]` names. Slack documents a name ("#general") as accepted
    only where posting: chat.postMessage's `channel` is "An encoded ID or channel name",
    chat.postEphemeral's "Can be an encoded ID, or a name"; chat.update's is the "Channel
    containing the message to be updated" and, like chat.delete, chat.getPermalink and the
    conversations.* readers, takes an id, answering a name with channel_not_found
    (https://docs.slack.dev/reference/methods/chat.update)."""
    ref = str(args.get("channel") or "")
    channel = ws.channel(ref) if by_name else ws.channels.get(ref)
    if channel is None or (channel.is_private and not ws.bot_is_member(channel)):
        raise ApiError("channel_not_found")
    return channel


def postable_channel(ws: Workspace, args: Json) -> Channel:
    channel = existing_channel(ws, args, by_name=True)
    if channel.is_archived:
        raise ApiError("is_archived")
    if not ws.bot_is_member(channel):
        raise ApiError("not_in_channel")
    return channel


def readable_channel(ws: Workspace, args: Json) -> Channel:
    channel = existing_channel(ws, args)
    if not ws.bot_is_member(channel):
        raise ApiError("not_in_channel")
    return channel


def _bot_message_at(
    ws: Workspace, channel: Channel, args: Json, refusal: str = "cant_update_message"
) -> Json:
    message = ws.find_message(channel.id, str(args.get("ts") or ""))
    if message is None:
        raise ApiError("message_not_found")
    if message.get("user") != ws.seed.bot_user_id:
        raise ApiError(refusal)
    return message


def _limit(args: Json) -> int:
    try:
        return max(1, min(int(args.get("limit") or 100), 1000))
    except ValueError:
        raise ApiError("invalid_limit") from None


METHODS: dict[str, Callable[[Workspace, Json], Json]] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
    "conversations.history": history,
    "conversations.replies": replies,
}
