"""The refusals of the core in plain English, naming no front end's commands: what each front end's table
starts from (chatroom.frontends.line.refusals, chatroom.frontends.irc.refusals), so that only the wordings that
tell someone what to type differ between them.
"""

from __future__ import annotations

from chatroom.core.errors import ChatError

# Also the notice every member here is sent when it happens (chatroom.bus.shared).
DEGRADED = (
    "the chat is degraded: this server lost contact with the others, so nothing you send can be given its place "
    "in the rooms' order; it is refused until the contact is back"
)
# What a member is told in place of an event of which the server could not make their copy (a bug)
UNSHOWN = "something sent to you could not be shown: the server met a fault"

PLAIN: dict[str, str] = {
    # Names and text
    "BAD_NICK:reserved": "{nick} is the server's own name, or a service's that IRC clients send passwords to:"
    " choose another",
    "BAD_NICK": "invalid nickname {nick!r}: 1-{most} ASCII letters (a-z), digits, '-' or any of []\\`^{{}}|_,"
    " not starting with a digit or '-'",
    "BAD_ROOM": "invalid room name {name!r}: 1-{most} ASCII letters (a-z), digits, '_', '-' or '.',"
    " starting with a letter or digit, optionally after '#'",
    "NICK_TAKEN": "nickname {nick} is taken",
    "RESUME_FAILED:gone": "nobody is called {nick} any more: choose a nickname",
    "RESUME_FAILED:token": "that is not {nick}'s resume token",
    "TOO_MANY_SESSIONS": "{nick} has {count} sessions, the most allowed: end one",
    "TOO_MANY_SESSIONS:one": "{nick} is connected already, and this server allows one connection per person: end it",
    "WATCH_FULL": "you watch {most} nicknames, the most allowed: stop watching some first",
    "NO_TEXT": "nothing to send",
    "TOO_LONG": "line longer than {most} bytes; it was ignored",
    "TOO_LONG:reaction": "a reaction is at most {most} bytes (an emoji, or a short word); it was ignored",
    "TOO_MANY_LINES": "more than {most} lines in one message; it was ignored",
    "BAD_UTF8": "the line is not valid UTF-8; it was ignored",
    "BAD_TEXT": "control characters are not allowed; the line was ignored",
    # Entering, logging in
    "REGISTRATION_OFF": "this server does not let clients register accounts: ask its administrator for one",
    "REGISTRATION_OFF:entered": "choose a nickname first: then register it",
    "EXISTS": "{name} is registered already",
    "EXISTS:changed": "{name} was removed or registered again before you were logged in to it",
    "NOT_YOUR_NICK": "you can register only your own nickname, not {nick}",
    "WEAK_PASSWORD": "a password needs at least {most} characters",
    "SLOW_DOWN:registrations": "your address has registered {most} accounts today, the most allowed: try again later",
    "NO_LOGIN": "{nick} needs a password",
    "BAD_LOGIN": "wrong nickname or password",
    "BAD_LOGIN:server_password": "wrong server password",
    "BAD_LOGIN:server_password_missing": "this server asks for its password (PASS) first",
    "SLOW_DOWN:server_password": "too many wrong server passwords: try again in {wait} s",
    "SLOW_DOWN:checking": "a login for this nickname or from your address is being checked: wait",
    "SLOW_DOWN:failures": "too many failed logins: try again in {wait} s",
    "SLOW_DOWN:busy": "the server is busy checking passwords: try again in a few seconds",
    "SLOW_DOWN:unshared": "logins cannot be checked while this server has lost contact with the others:"
    " try again in a few seconds",
    "SLOW_DOWN:unguessed": "server passwords cannot be checked while this server has lost contact with the others:"
    " try again in a few seconds",
    "LOCKDOWN:enter": "the server is locked down: only registered accounts may enter for now",
    "LOCKDOWN:join": "the server is locked down: only registered accounts may join rooms",
    "LOCKDOWN:open": "the server is locked down: only registered accounts may open rooms for now",
    "LOCKDOWN:talk": "the server is locked down: only registered accounts may talk for now",
    "BANNED:server": "you are banned from this server{why}",
    # Rooms
    "ROOM_FULL": "{room} is full: {count} people are in it",
    "ROOM_FULL:limit": "{room} is full: its limit is {limit} people",
    "BANNED": "you are banned from {room}{why}",
    "BAD_KEY:wrong": "you cannot join {room}: that is not its key",
    "BAD_KEY:invalid": "a key is at most {most} characters, without spaces, ',' or ':'",
    "BAD_LIMIT": "a limit is a number of people from 1 to {most}, or off",
    "NO_SUCH_ROOM": "nobody is in {room}",
    "NOT_IN_ROOM": "you are not in {room}",
    "NO_SUCH_NICK": "nobody is called {nick}",
    "NO_SUCH_NICK:ban": "nobody is called {nick}: ban an address through someone using it",
    "NOT_THERE": "{nick} is not in {room}",
    "ALREADY_THERE": "{nick} is in {room} already",
    # History
    "NO_HISTORY": "this server keeps no history: its administrator has not turned it on",
    "USAGE:history": "ask for the latest lines, or those before, after or around a message or a time",
    "BAD_COUNT": "ask for 1 to {most} lines",
    "BAD_TIME": "{time} is not a time: write it as 2026-11-23T09:30:00.000Z",
    "BAD_MSGID": "{msgid} is not a message id: ids look like lq3k9d2a-1041",
    "NO_SUCH_MESSAGE": "{room} keeps no message {target}, nor any line of {target}",
    "NO_SUCH_MESSAGE:private": "your conversation with {nick} keeps no message {target}",
    "NO_SUCH_MESSAGE:mine": "{room} keeps no line of yours: nothing was removed",
    "NOT_YOURS": "{target} is not a line of yours: in a private conversation, each removes only their own",
    "NO_SEARCH_WORDS": "search for at least one word: letters or digits",
    "TOO_MANY_WORDS": "search for at most {most} words",
    "SEARCH_FAILED": "the search could not be run; try again later",
    "BAD_RULE:rule": "{text}: a room's history rule is history off|since-join|all, keep 30d|5000|default,"
    " or redact-mine on|off",
    "BAD_RULE:keep": "{text}: keep a number of lines (5000), a time (30d, 12h), or default",
    "NOT_ALLOWED:redact_mine": "{room} does not let its members erase their own lines; its operators may",
    # Metadata
    "BAD_METADATA_KEY": "{key!r} is not a metadata key: 1-{most} lower-case letters, digits, '_', '.', '/' or '-'",
    "BAD_METADATA_VALUE": "a metadata value is at most {most} bytes of text, without control characters",
    "BAD_METADATA_VALUE:avatar": "an avatar is the https:// address of a picture",
    "METADATA_FULL": "{target} has {count} metadata keys, the most allowed: remove one first",
    "NOT_ALLOWED:metadata": "you may not change {target}'s metadata: a person sets their own, a room's operators"
    " the room's",
    "NOT_ALLOWED:metadata_read": "{target}'s metadata is for its members only",
    # Moderation
    "MODERATED": "{room} is moderated: only voiced members and operators speak",
    "MUTED": "you are muted in {room}: only its operators can lift that",
    "NO_CTCP": "{room} takes no CTCP requests",
    "RENAME:registered": "{room} is registered: its owner must drop its registration before it is renamed",
    "RENAME:numbered": "{room}: a room is not renamed to or from a number, which people join it by",
    "RENAME:taken": "{room} exists already",
    "NOT_OPERATOR": "only an operator of {room} may {action}",
    "NOT_OWNER": "only the owner of {room} may {action}",
    "NOT_ADMIN": "only a server administrator may {action}",
    "PROTECTED:admin": "{nick} is a server administrator: revoke that first",
    "PROTECTED:admin_ban": "{nick} is a server administrator and cannot be banned",
    "PROTECTED:admin_kick_ban": "{nick} is a server administrator and cannot be kicked or banned",
    "PROTECTED:outranked_by_admin": "{nick} is a server administrator: you cannot {doing}",
    "PROTECTED:outranked_by_owner": "{nick} is the owner of {room}: you cannot {doing}",
    "SELF:ban": "you cannot ban yourself",
    "BAD_MASK:everyone": "{text} would ban everyone: name a nickname, an address or an account",
    "BAD_MASK:account": "invalid ban mask {text!r}: an account name has no wildcards",
    "BAD_MASK:nick": "invalid ban mask {text!r}: a nickname pattern has letters, digits, '_', '-', '*' and '?'",
    "BAD_MASK:network": "invalid ban mask {text!r}: an address network looks like 192.0.2.0/24 or 2001:db8::/64",
    "BAD_MASK:host": "invalid ban mask {text!r}: an address pattern has digits, '.', ':', '*' and '?'",
    "BAD_MASK:user": "invalid ban mask {text!r}: a user name pattern has letters, digits, '~._-', '*' and '?'",
    "BAD_MASK:address": "{nick} has no address to ban",
    "BAD_DURATION": "{text}: a ban lasts from 1s to 10 years (3650d), or until lifted",
    "BAD_DURATION:form": "{text} is not a duration: write it like 10m, 2h, 7d, 1h30m or forever",
    "NO_SUCH_BAN": "there is no ban on {mask}; the ban list shows the masks",
    "LIST_FULL": "the list is full ({most} entries): remove one first",
    "REGISTERED": "{room} is registered already, to {owner}",
    "NOT_LOGGED_IN": "only a logged-in account can own a room: guests cannot register one",
    "NOT_NAMED": "{account} is not one of the operators of {room}",
    "NO_ACCOUNT": "there is no account {name}",
    # The server
    "DEGRADED": DEGRADED,
    "DEGRADED:starting": "this server is still joining the others: try again in a moment",
    "NOT_SAVED": "done, but the server could not write it down: it is lost at a restart; tell its administrator",
    "SERVER_ERROR": "the server could not do that; try again later",
}


class Wordings(dict[str, str]):
    """A front end's refusals: each ChatError.key and its text, with `{argument}` where an argument goes."""

    def word(self, error: ChatError) -> str:
        """`error` as this front end says it."""
        return self[error.key].format(**error.arguments)
