"""What the emulated workspace starts with: team, bot identity, users, user groups, channels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UserSeed:
    id: str
    name: str  # the handle, e.g. "alice"
    real_name: str
    tz: str = "Africa/Johannesburg"


@dataclass(frozen=True)
class UsergroupSeed:
    id: str
    handle: str
    name: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class ChannelSeed:
    id: str
    name: str
    members: tuple[str, ...]
    bot_is_member: bool = True
    is_archived: bool = False
    is_private: bool = False


ALICE = UserSeed("U_ALICE", "alice", "Alice Nkosi")
BOB = UserSeed("U_BOB", "bob", "Bob Meyer", tz="Europe/Amsterdam")
CAROL = UserSeed("U_CAROL", "carol", "Carol Dlamini")
DAVE = UserSeed("U_DAVE", "dave", "Dave Okafor", tz="Europe/London")
EVERYONE = (ALICE.id, BOB.id, CAROL.id, DAVE.id)
ENGINEERS = (ALICE.id, BOB.id, CAROL.id)  # Dave is in #general only


@dataclass(frozen=True)
class Seed:
    team_id: str = "T_FLUXORI"
    team_name: str = "Fluxori"
    domain: str = "fluxori"
    bot_user_id: str = "U_BOT"
    bot_name: str = "fluxori_ops"
    bot_real_name: str = "Fluxori Ops"
    bot_id: str = "B_BOT"
    app_id: str = "A_OPS"
    users: tuple[UserSeed, ...] = (ALICE, BOB, CAROL, DAVE)
    usergroups: tuple[UsergroupSeed, ...] = (
        UsergroupSeed("S_SRE", "sre", "Site reliability", (ALICE.id, BOB.id)),
    )
    channels: tuple[ChannelSeed, ...] = (
        ChannelSeed("C_OPS", "fluxori-ops", ENGINEERS),
        ChannelSeed("C_GENERAL", "general", EVERYONE, bot_is_member=False),
        ChannelSeed("C_ARCHIVED", "old-incidents", ENGINEERS, is_archived=True),
    )

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"
