"""A local Slack for the bot: Web API, response URLs, signed requests towards the bot."""

from bot.dev.slack_emulator.driver import BotResponse, Driver
from bot.dev.slack_emulator.emulator import SlackEmulator
from bot.dev.slack_emulator.ids import ManualClock
from bot.dev.slack_emulator.seed import ChannelSeed, Seed, UsergroupSeed, UserSeed
from bot.dev.slack_emulator.state import ApiCall

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
