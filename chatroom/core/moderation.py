"""Who may do what in a room, and what a ban matches: the rules every front end renders the same way.

A member's standing in a room is one `Rank`. Each action needs a rank (`NEEDS`), and an action on a person
also needs a rank at least theirs: an operator may kick an operator but not the owner, and nobody kicks or
bans an administrator. `authorize` is the only place these rules are decided. IRC's MODE +o/+v/+b/+i/+k/+m/+t/+l,
KICK and INVITE map one to one onto the operations of chatroom.core.operators that call it.
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import re
import time
from dataclasses import dataclass, replace
from typing import Any

from chatroom.core.addresses import address_key, ip
from chatroom.core.errors import ChatError
from chatroom.core.events import BanList
from chatroom.core.names import NICK_MAX, NICK_SPECIALS, nick_key


class Rank(enum.IntEnum):
    MEMBER = 0
    VOICE = 1
    OPERATOR = 2
    OWNER = 3  # the registered room's owner account
    ADMIN = 4  # a server administrator, in every room


class Role(enum.Flag):
    """What a member holds in one room, for now: IRC's +v and +o."""

    NONE = 0
    VOICE = enum.auto()
    OPERATOR = enum.auto()

    @property
    def prefix(self) -> str:
        """As IRC shows it in NAMES, highest first: "@+" for an operator with voice."""
        return _PREFIXES[self]


# Looked up rather than worked out: a room's names are listed for everyone who joins it, a prefix per member,
# and Flag's `in` costs a function call each time.
_PREFIXES = {Role.NONE: "", Role.VOICE: "+", Role.OPERATOR: "@", Role.OPERATOR | Role.VOICE: "@+"}


class Action(enum.Enum):
    """What may be done, each as the words of a refusal: "only an operator of #5 may ..."."""

    SPEAK = "speak in a moderated room"
    TOPIC = "set the topic while it is locked"
    INVITE = "invite people to an invite-only room"
    ROLE = "give or take operator and voice"
    KICK = "kick people"
    REDACT = "remove lines from the room's history"
    BAN = "ban people"
    CONFIGURE = "change the room's settings"
    REGISTER = "register the room"
    OWN = "drop the room, give it away or name its operators"
    ADMINISTER = "do that"
    WALLOPS = "send wallops"


NEEDS = {
    Action.SPEAK: Rank.VOICE,
    Action.TOPIC: Rank.OPERATOR,
    Action.INVITE: Rank.OPERATOR,
    Action.ROLE: Rank.OPERATOR,
    Action.KICK: Rank.OPERATOR,
    Action.REDACT: Rank.OPERATOR,
    Action.BAN: Rank.OPERATOR,
    Action.CONFIGURE: Rank.OPERATOR,
    Action.REGISTER: Rank.OPERATOR,
    Action.OWN: Rank.OWNER,
    Action.ADMINISTER: Rank.ADMIN,
    Action.WALLOPS: Rank.ADMIN,
}

_ON_SOMEONE = {Action.ROLE: "change their roles", Action.KICK: "kick them", Action.BAN: "ban them"}


def authorize(rank: Rank, action: Action, room: str, target: Rank | None = None, target_nick: str = "") -> None:
    """Raise ChatError unless someone of `rank` may do `action` in `room` (to someone of rank `target`)."""
    needed = NEEDS[action]
    if rank < needed:
        if action is Action.SPEAK:
            raise ChatError("MODERATED", room=room)
        if needed is Rank.ADMIN:
            raise ChatError("NOT_ADMIN", action=action.value)
        if needed is Rank.OWNER:
            raise ChatError("NOT_OWNER", room=room, action=action.value)
        raise ChatError("NOT_OPERATOR", room=room, action=action.value)
    if target is None:
        return
    if target is Rank.ADMIN and action in (Action.KICK, Action.BAN):
        raise ChatError("PROTECTED", "admin_kick_ban", nick=target_nick)
    if target > rank:
        if target is Rank.ADMIN:
            raise ChatError("PROTECTED", "outranked_by_admin", nick=target_nick, doing=_ON_SOMEONE[action])
        raise ChatError("PROTECTED", "outranked_by_owner", nick=target_nick, room=room, doing=_ON_SOMEONE[action])


class Lockdown(enum.IntEnum):
    """How far a raid is shut out: each level includes those below it. Logged-in members are never affected."""

    OFF = 0
    SPEAK = 1  # guests may not talk in rooms or privately
    JOIN = 2  # ...nor join a room
    CONNECT = 3  # ...nor take a nickname: only accounts may enter


class Setting(enum.Enum):
    """A room's settings, by the names the line protocol uses (IRC: i, k, m, t, l, s, and -n)."""

    INVITE_ONLY = "invite"
    KEY = "key"
    MODERATED = "moderated"
    TOPIC_LOCK = "topiclock"
    LIMIT = "limit"
    SECRET = "secret"
    EXTERNAL = "external"
    NO_CTCP = "noctcp"


@dataclass
class RoomSettings:
    invite_only: bool = False
    key: str = ""  # "" for none
    moderated: bool = False
    topic_lock: bool = True  # as on most IRC networks: a new room's topic is its operators'
    limit: int = 0  # members, 0 for no limit
    secret: bool = False  # left out of the room list, and its members unlisted, for those not in it
    external: bool = False  # those not in the room may send it messages (IRC's -n)
    # Its history rule (chatroom.core.policy), within the server's --history and --history-age:
    history: str = "all"  # "off", "since-join" or "all"
    keep_lines: int = 0  # at most this many lines; 0: the server's --history
    keep_age: float = 0.0  # no line older than this many seconds; 0: the server's --history-age
    redact_mine: bool = True  # each member may erase their own kept lines (/redact mine, IRC's REDACT)
    no_ctcp: bool = False  # IRC's CTCP requests (text between \x01s, /me excepted) refused in the room (+C)


CTCP = "\x01"  # text starting with it is a CTCP request (IRC's; /me, its ACTION, is a message's `action`)
KEY_MAX = 32
LIMIT_MAX = 100_000


def bad_limit() -> ChatError:
    return ChatError("BAD_LIMIT", most=LIMIT_MAX)


# Bans

ACCOUNT_PREFIXES = ("account:", "$a:", "~a:")  # ours, then IRC's extended bans (Solanum's, UnrealIRCd's)
# The account extban IRC announces (ISUPPORT ACCOUNTEXTBAN), as InspIRCd's: with no EXTBAN prefix, an extban is
# LETTER:..., and a capital R, not a hex digit, never starts an IPv6 address as `a:` would (a:b::1).
ACCOUNT_EXTBAN = "R:"
MUTE_PREFIX = "m:"  # a mute: the person may join and stay, but not speak (IRC's extended ban m:, as Ergo's)
ADDRESS_OF = "*!*@address-of-"  # and a nickname: how a person's address is written in a ban, never shown
_GLOB = re.compile(rf"[A-Za-z0-9{NICK_SPECIALS}\-*?]+")
_HOST_GLOB = re.compile(r"[0-9A-Fa-f.:*?]+")
_USER_GLOB = re.compile(r"[A-Za-z0-9~._\-*?]+")  # an IRC user name, as USER gives it (an ident's "~" too)


@dataclass(frozen=True)
class Mask:
    """Whom a ban is for: an account, or a nickname pattern at an address pattern (IRC's nick!user@host).

    Patterns use `*` and `?`. The address may also be a network such as 2001:db8:1:2::/64. The user name is
    the one a person's client gave (IRC's USER): "" for those whose front end has none, matched by `*` only.
    A mute (`m:` before any of these) stops the person it matches from speaking, not from joining.
    """

    account: str = ""
    nick: str = "*"
    host: str = "*"
    # What the mask is shown as instead, when it holds a person's address: banning someone must not tell the
    # room, or whoever banned them, where they connect from.
    alias: str = ""
    guests: bool = False  # matches guests only: logged-in people are known by their account, not their address
    user: str = "*"
    mute: bool = False

    def __str__(self) -> str:
        if self.alias:
            return self.alias
        mute = MUTE_PREFIX if self.mute else ""
        return mute + (f"account:{self.account}" if self.account else f"{self.nick}!{self.user}@{self.host}")

    def real(self) -> str:
        """The mask itself, alias or not: what is kept on disk."""
        return str(Mask(self.account, self.nick, self.host, user=self.user, mute=self.mute))

    def matches(self, nick: str, account: str | None, address: str, user: str = "") -> bool:
        if self.guests and account is not None:
            return False
        if self.account:
            return account is not None and nick_key(account) == nick_key(self.account)
        return glob(self.nick, nick) and glob(self.user, user) and _host_matches(self.host, address)

    @classmethod
    def address_of(cls, nick: str, address: str) -> Mask:
        """Guests who connect from where `nick` does (IPv6: their /64), shown as `*!*@address-of-NICK`.

        Raises ValueError if `address` is not an IP address (a Unix socket).
        """
        return cls(host=address_key(address), alias=ADDRESS_OF + nick, guests=True)

    @classmethod
    def parse(cls, text: str) -> Mask:
        """`account:NAME` (IRC's `R:NAME`, `$a:NAME` or `~a:NAME`), `NICK!USER@HOST`, `NICK@HOST`, an address, or a
        nickname pattern.

        Raises ChatError for a malformed mask.
        """
        if text.lower().startswith(MUTE_PREFIX):
            return replace(cls.parse(text[len(MUTE_PREFIX) :]), mute=True)
        if prefix := account_prefix(text):
            account = text[len(prefix) :]
            if not account or _GLOB.fullmatch(account) is None or "*" in account or "?" in account:
                raise ChatError("BAD_MASK", "account", text=text)
            return cls(account=account)
        user = "*"
        if "@" in text:
            nick, _, host = text.rpartition("@")
            nick, _, user = nick.partition("!")
            nick, user = nick or "*", user or "*"
        elif "." in text or ":" in text:
            nick, host = "*", text
        else:
            nick, host = text, "*"
        if _GLOB.fullmatch(nick) is None or len(nick) > NICK_MAX:
            raise ChatError("BAD_MASK", "nick", text=text)
        if _USER_GLOB.fullmatch(user) is None:
            raise ChatError("BAD_MASK", "user", text=text)
        if "/" in host:
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise ChatError("BAD_MASK", "network", text=text) from None
            host = str(network)
        elif _HOST_GLOB.fullmatch(host) is None:
            raise ChatError("BAD_MASK", "host", text=text)
        else:
            host = _plain_address(host)
        return cls(nick=nick, host=host, user=user)

    @property
    def everyone(self) -> bool:
        """Whether it matches every person (refuse_everyone)."""
        everywhere = ipaddress.ip_network(self.host).prefixlen == 0 if "/" in self.host else _wild(self.host)
        return not self.account and _wild(self.nick) and _wild(self.user) and everywhere


def refuse_everyone(masks: list[Mask], text: str) -> None:
    """Refuse a mask that matches everyone: a typed `/ban *` would put a whole room out. Only IRC's `+b *!*@*`,
    which clients send meaning "all but the exceptions", is taken (Operators.ban's `everyone`)."""
    if any(mask.everyone for mask in masks):
        raise ChatError("BAD_MASK", "everyone", text=text)


def account_prefix(text: str) -> str:
    """The account prefix `text` starts with, or "": ours and `$a:`/`~a:` in any case, `R:` only as a capital, as
    IRC's extban letters are case-sensitive (InspIRCd's `r:` is a real name)."""
    if text.startswith(ACCOUNT_EXTBAN):
        return ACCOUNT_EXTBAN
    return next((prefix for prefix in ACCOUNT_PREFIXES if text.lower().startswith(prefix)), "")


@dataclass(frozen=True)
class Allowed:
    """A mask let into an invite-only room without an invitation (IRC's +I), or past its bans (+e)."""

    mask: Mask
    setter: str


@dataclass(frozen=True)
class Ban:
    mask: Mask
    setter: str
    reason: str
    until: float | None  # when it ends, in seconds since the epoch; None until lifted
    since: float = 0.0  # when it was set, likewise; 0.0 if it was kept before that was kept

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


LIST_MAX = 100  # bans, and masks allowed past invite-only, per room (IRC's MAXLIST)


def ban_on(
    bans: list[Ban], now: float, nick: str, account: str | None, address: str, user: str = "", mute: bool = False
) -> Ban | None:
    """The first ban in force that stops this person joining (or, with `mute`, speaking), if any."""
    for ban in bans:
        if ban.mask.mute == mute and ban.active(now) and ban.mask.matches(nick, account, address, user):
            return ban
    return None


def excepted(entries: list[Allowed], nick: str, account: str | None, address: str, user: str, mute: bool) -> bool:
    """Whether a room's exceptions (IRC's +e) let this person past its bans (or, with `mute`, its mutes).

    A plain exception lets them past both; a mute's exception (`m:MASK`) past mutes only.
    """
    return any((mute or not entry.mask.mute) and entry.mask.matches(nick, account, address, user) for entry in entries)


def add_bans(
    bans: list[Ban], masks: list[Mask], setter: str, reason: str, now: float, duration: float | None, most: int
) -> list[Ban]:
    """Add to `bans` those of `masks` it does not hold yet, ending `duration` seconds from `now`; the bans added.

    Those that ended are pruned first; ChatError if the list would grow past `most`.
    """
    bans[:] = [ban for ban in bans if ban.active(now)]
    existing = {str(ban.mask).lower() for ban in bans}  # a person's address ban is its alias: no probing it
    added = [
        Ban(mask, setter, reason, None if duration is None else now + duration, now)
        for mask in masks
        if str(mask).lower() not in existing
    ]
    refuse_full(bans, len(added), most)
    bans.extend(added)
    return added


def find_ban(bans: list[Ban], mask: str) -> Ban:
    """The ban on `mask`, as the ban list shows it, or typed in a short form.

    Only the shown form is compared, so a typed address never finds a person's hidden address ban.
    """
    shown = {str(ban.mask).lower(): ban for ban in bans}
    ban = shown.get(mask.lower()) or shown.get(str(Mask.parse(mask)).lower())
    if ban is not None:
        return ban
    raise ChatError("NO_SUCH_BAN", mask=mask)


def refuse_full(entries: list[Any], more: int, most: int = LIST_MAX) -> None:
    """Refuse to grow a list of bans or allowed masks past `most`: an operator's or an administrator's too."""
    if len(entries) + more > most:
        raise ChatError("LIST_FULL", most=most)


def already_banned(target: str) -> ChatError:
    return ChatError("ALREADY_BANNED", target=target)


def ban_why(ban: Ban) -> str:
    """The reason and end of a ban, as a person reads them: ": spam (until 2026-11-22 20:14 UTC)"."""
    ends = f" (until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(ban.until))})" if ban.until else ""
    return (f": {ban.reason}" if ban.reason else "") + ends


def ban_kick(reason: str) -> str:
    """What the room hears as the kick of someone a ban puts out."""
    return f"banned: {reason}" if reason else "banned"


def until(ban: Ban) -> str:
    """When a ban ends, as events carry it: ISO 8601 in UTC, "" for never."""
    if ban.until is None:
        return ""
    return datetime.datetime.fromtimestamp(ban.until, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ban_list(room: str, bans: list[Ban]) -> BanList:
    entries = tuple((str(ban.mask), ban.setter, until(ban), ban.reason) for ban in bans)
    return BanList(room, entries, tuple(ban.since for ban in bans))


DURATION_MAX = 10 * 365 * 86400
_UNIT = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * 86400),
}
_PART = re.compile(r"([0-9]{1,9})(" + "|".join(sorted(_UNIT, key=len, reverse=True)) + ")")
_DURATION = re.compile(f"(?:{_PART.pattern})+")


def parse_duration(text: str) -> float | None:
    """Seconds in "10m", "2h", "7d", "1w", "1h30m" (or "10min", "1hr", "2days"...); None if `text` is not a duration
    at all: it does not begin with a number.

    Raises ChatError for what begins like one but is not (a typed "10x", "-5m" or "10" would otherwise be the
    first word of a ban's reason, and the ban for ever), and for a duration that is zero or longer than ten years.
    """
    lowered = text.lower()
    first = lowered.lstrip("-+")[:1]
    if not first or first not in "0123456789":  # ASCII digits: a reason may begin with "²"
        return None
    if _DURATION.fullmatch(lowered) is None:
        raise ChatError("BAD_DURATION", "form", text=text)
    seconds = sum(int(number) * _UNIT[unit] for number, unit in _PART.findall(lowered))
    if not 0 < seconds <= DURATION_MAX:
        raise ChatError("BAD_DURATION", text=text)
    return float(seconds)


def glob(pattern: str, text: str) -> bool:
    """`*` and `?` wildcards, case ignored, in time proportional to the two lengths multiplied.

    Not a regular expression: `*a*a*a...` would make one backtrack exponentially, and anyone may send WHO masks.
    """
    pattern, text = pattern.lower(), text.lower()
    p = t = 0
    star, resume = -1, 0  # the last '*' seen, and where in the text it was last made to end
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]):
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume, p = p, t, p + 1
        elif star >= 0:
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    return pattern[p:].strip("*") == ""


def _host_matches(pattern: str, address: str) -> bool:
    """Whether an address matches: written as `_plain_address` writes it, so that ::ffff:192.0.2.1 is 192.0.2.1."""
    if "/" not in pattern:
        return glob(pattern, _plain_address(address))
    try:
        return ip(address) in ipaddress.ip_network(pattern)
    except ValueError:
        return False  # not an IP address: a Unix socket, say


def _plain_address(host: str) -> str:
    """One spelling per address (IPv4-mapped as IPv4, IPv6 compressed); anything else as it is."""
    try:
        return str(ip(host))
    except ValueError:
        return host


def _wild(pattern: str) -> bool:
    """Whether a pattern matches any nickname, or any address: it is only wildcards (and an address's dots and
    colons, as in *.* or *:*)."""
    return not pattern.strip("*?.:")
