"""What this IRC server says it supports (ISUPPORT, MYINFO), and so the limits its commands hold to."""

from __future__ import annotations

from chatroom.core.chat import Chat
from chatroom.core.history import PAGE_MAX
from chatroom.core.members import AWAY_MAX
from chatroom.core.metadata import KEYS_MAX, VALUE_MAX
from chatroom.core.moderation import ACCOUNT_EXTBAN, LIST_MAX, MUTE_PREFIX, Setting
from chatroom.core.monitor import WATCH_MAX
from chatroom.core.names import NICK_MAX, ROOM_MAX
from chatroom.frontends.irc.render import ROLE_MODES, SETTING_MODES

USER_MAX = 16  # characters kept of the user name given with USER
TARGETS_MAX = 4  # targets of one PRIVMSG, NOTICE, KICK, NAMES or WHOIS (ISUPPORT TARGMAX)
MODES_MAX = 6  # mode changes with a parameter in one MODE
TOPIC_MAX = 390
KICK_MAX = 390
METADATA_CAP = "draft/metadata-3"
SUBS_MAX = 50  # metadata keys one session may subscribe to (METADATA SUB)
# What CAP LS 302 says of the metadata the server keeps (chatroom.core.metadata's limits)
METADATA_VALUES = f"before-connect,max-subs={SUBS_MAX},max-keys={KEYS_MAX},max-value-bytes={VALUE_MAX}"
BOT_MODE = "B"  # the user mode of a bot (IRCv3 bot mode: ISUPPORT BOT=B)

# Every channel mode's letter is in render.SETTING_MODES and ROLE_MODES; these are derived from them.
CHANNEL_FLAGS = {
    SETTING_MODES[setting.value]: setting
    for setting in (Setting.INVITE_ONLY, Setting.MODERATED, Setting.SECRET, Setting.TOPIC_LOCK, Setting.NO_CTCP)
}
CHANMODES = "Ibe,k,l," + "".join(sorted([*CHANNEL_FLAGS, "n"]))  # ISUPPORT's groups: lists, key, limit, switches
MYINFO_MODES = "".join(sorted(CHANMODES.replace(",", "") + "".join(ROLE_MODES.values()), key=str.lower))


def keeps_history(chat: Chat) -> bool:
    return chat.history_limits.lines > 0


def isupport(chat: Chat) -> list[str]:
    """RPL_ISUPPORT's tokens."""
    return [
        f"ACCOUNTEXTBAN={ACCOUNT_EXTBAN[0]}",
        "AWAYLEN=" + str(AWAY_MAX),
        f"BOT={BOT_MODE}",
        "CASEMAPPING=ascii",
        *([f"CHATHISTORY={PAGE_MAX}"] if keeps_history(chat) else []),
        f"CHANLIMIT=#:{chat.limits.rooms_per_member}",
        f"CHANMODES={CHANMODES}",
        f"CHANNELLEN={ROOM_MAX + 1}",
        "CHANTYPES=#",
        "ELIST=CMNTU",
        "EXCEPTS=e",
        f"EXTBAN=,{ACCOUNT_EXTBAN[0]}{MUTE_PREFIX[0]}",  # as InspIRCd's: R:ACCOUNT bans an account, m:MASK mutes
        "INVEX=I",
        "KICKLEN=" + str(KICK_MAX),
        f"MAXLIST=b:{LIST_MAX},e:{LIST_MAX},I:{LIST_MAX}",
        f"MODES={MODES_MAX}",
        f"MONITOR={WATCH_MAX}",
        *(["MSGREFTYPES=msgid,timestamp"] if keeps_history(chat) else []),
        "NETWORK=chatroom",
        f"NICKLEN={NICK_MAX}",
        "PREFIX=(ov)@+",
        "STATUSMSG=@+",
        f"TARGMAX=JOIN:,KICK:{TARGETS_MAX},NAMES:{TARGETS_MAX},NOTICE:{TARGETS_MAX},PART:,"
        f"PRIVMSG:{TARGETS_MAX},WHOIS:{TARGETS_MAX}",
        "TOPICLEN=" + str(TOPIC_MAX),
        "USERLEN=" + str(USER_MAX),
        "UTF8ONLY",
        "WHOX",
    ]
