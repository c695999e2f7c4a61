"""A local Slack for the bot: Web API, response URLs, signed requests towards the bot."""

from bot.slack_emulator.driver import BotResponse, Driver
from bot.slack_emulator.emulator import SlackEmulator
from bot.slack_emulator.ids import ManualClock
from bot.slack_emulator.seed import ChannelSeed, Seed, UsergroupSeed, UserSeed
from bot.slack_emulator.state import ApiCall

__all__ = [
    "ApiCall",
    "BotResponse",
    "ChannelSeed",
    "Driver",
    "ManualClock",
    "Seed",
    "SlackEmulator",
    "UserSeed",
    "UsergroupSeed",
]
