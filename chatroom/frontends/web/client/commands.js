// What a person types: text is said in the current room; `/command` lines are the ones chatroom's terminal client
// and IRC clients know (`/join 5`, `/msg bob hi`, `/me waves`, `/kick bob`); any other `/WORD ...` goes to the
// server as the IRC command WORD, so nothing an IRC client can type is out of reach.

import { escapeTag, format } from "./irc.js";
import { roomName, unsafeAt, unsafeWords } from "./chat.js";

const HELP = [
  "/join ROOM - join a room by its name or number",
  "/part [ROOM] - leave a room (also /leave)",
  "/msg NICK TEXT - a private message (also /query NICK)",
  "/me TEXT - an action",
  "/reply ^N TEXT - answer a line: ^ the latest, ^2 the one before it... (or the line's Reply button)",
  "/react [^N] EMOJI - react to a line (or its 👍 button); Shift+Enter starts a new line of the same message",
  "/topic [TEXT] - show or set the topic",
  "/nick NAME - change your nickname",
  "/kick NICK [REASON], /ban NICK|MASK, /bans, /unban MASK - for operators",
  "/op, /deop, /voice, /devoice NICK - for operators",
  "/room history off|since-join|all, /room keep 30d|5000|default - what the room keeps (operators)",
  "/invite NICK, /whois NICK, /away [TEXT], /quit [TEXT]",
  "/displayname [NAME], /avatar [https://ADDRESS] - shown beside your nickname to others (none: removed)",
  "/quote LINE - send a raw IRC line; other /COMMANDs go to the server as IRC commands",
];

const split = (text, count) => {
  const words = [];
  let rest = text.trim();
  while (words.length < count - 1 && rest) {
    const space = rest.indexOf(" ");
    if (space < 0) break;
    words.push(rest.slice(0, space));
    rest = rest.slice(space + 1).trimStart();
  }
  if (rest) words.push(rest);
  return words;
};

/** A line not sent, as the server would refuse it: it holds a character of chat.js's UNSAFE_TEXT, at `at`. Its
 * message asks for it removed; `selected` says where, once the box selects it. */
export class Unsendable extends Error {
  constructor(text, found) {
    const what = `Not sent: the text holds ${unsafeWords(text, found)}`;
    super(`${what}: remove ${found.length > 1 ? "them" : "it"}.`);
    this.at = found[0];
    this.selected = `${what}. ${found.length > 1 ? "The first" : "It"} is selected in the box: Backspace removes it.`;
  }
}

/** Run one typed line in `chat` (its current room is where it is said); a message, not a command, goes as a reply
 * to the line whose id is `reply`, when given (the reply bar's). */
export function run(chat, text, reply = "") {
  const unsafe = unsafeAt(text); // whatever the line is (a message, /me, /topic...), the server would refuse it
  if (unsafe.length) throw new Unsendable(text, unsafe);
  const room = chat.current;
  const raw = (line) => {
    if (!chat.connection.send(line)) throw new Error("Not connected: nothing was sent.");
  };
  const send = (...line) => raw(format(...line));
  const here = () => {
    if (room?.server) throw new Error("Join a room first: type its name or number in Join a room.");
    return room.name;
  };
  const channel = () => {
    if (!room?.channel) throw new Error("This works in a room.");
    return room.name;
  };
  if (!text.startsWith("/") || text.startsWith("//")) {
    const said = text.startsWith("//") ? text.slice(1) : text;
    if (!chat.say(here(), said, reply && `+draft/reply=${escapeTag(reply)}`)) throw new Error("Not connected: nothing was sent.");
    echo(chat, room, "message", said, reply);
    return;
  }
  const [word, rest = ""] = split(text.slice(1), 2);
  const command = word.toLowerCase();
  const args = (count) => split(rest, count);
  const needs = (value, usage) => {
    if (!value) throw new Error(`Usage: ${usage}`);
    return value;
  };
  const picked = (pick, usage) => {
    const line = chat.pick(room, pick);
    if (!line) throw new Error(`No line ${pick} here: ^ is the latest, ^2 the one before it... (${usage})`);
    return escapeTag(line.id);
  };
  if (/^\/reply \^/i.test(text)) {
    const [pick, said = ""] = split(rest, 2);
    const usage = "/reply ^N TEXT";
    if (!chat.say(here(), needs(said, usage), `+draft/reply=${picked(pick, usage)}`)) throw new Error("Not connected.");
    return;
  }
  if (/^\/react /i.test(text)) {
    const [pick, emoji] = rest.startsWith("^") ? split(rest, 2) : ["^", rest];
    const usage = "/react [^N] EMOJI";
    raw(`@+draft/react=${escapeTag(needs(emoji?.trim(), usage))};+draft/reply=${picked(pick, usage)} TAGMSG ${here()}`);
    return;
  }
  switch (command) {
    case "join": {
      const [name, key] = args(2);
      const first = roomName(needs(name, "/join ROOM").split(",")[0]);
      const joined = chat.room(first, false);
      if (joined?.joined) chat.select(joined); // in it already: the page goes there, as the Join box does
      else chat.joining = first.toLowerCase();
      if (key) send("JOIN", name.split(",").map(roomName).join(","), key);
      else chat.join(name.split(","));
      return;
    }
    case "part":
    case "leave": {
      const [first, reason] = args(2);
      const named = first && chat.room(roomName(first), false);
      if (named) send("PART", named.name, reason || "leaving");
      else send("PART", channel(), rest || "leaving");
      return;
    }
    case "msg":
    case "query": {
      const [nick, said] = args(2);
      const conversation = chat.room(needs(nick, `/${command} NICK TEXT`));
      if (said) {
        if (!chat.say(nick, said)) throw new Error("Not connected: nothing was sent.");
        echo(chat, conversation, "message", said);
      }
      chat.select(conversation);
      return;
    }
    case "me": {
      const target = here();
      const bytes = new TextEncoder().encode(rest).length;
      const most = chat.textBytes(target) - "\x01ACTION \x01".length;
      if (bytes > most) throw new Error(`Too long for an action: ${bytes} bytes, where one holds ${most}.`);
      send("PRIVMSG", target, `\x01ACTION ${rest}\x01`);
      echo(chat, room, "action", rest);
      return;
    }
    case "topic": {
      const most = Number(chat.connection.isupport.get("TOPICLEN")); // the server cuts a longer one, silently
      const length = [...rest].length; // characters, as the server counts them (code points)
      if (most && length > most) throw new Error(`A topic holds ${most} characters at most; this one has ${length}.`);
      if (rest) send("TOPIC", channel(), rest);
      else chat.info(room.topic ? `The topic of ${room.name}: ${room.topic}` : `${channel()} has no topic.`);
      return;
    }
    case "kick": {
      const [nick, reason] = args(2);
      send("KICK", channel(), needs(nick, "/kick NICK [REASON]"), reason || nick);
      return;
    }
    case "ban": {
      const [target, more] = args(2);
      const usage = "/ban NICK|MASK";
      if (more) throw new Error(`Usage: ${usage}: a ban here lasts until lifted, and /kick NICK REASON says why.`);
      if (/[!@.:*?]/.test(needs(target, usage))) send("MODE", channel(), "+b", target); // a mask, as typed
      else chat.ban(channel(), target);
      return;
    }
    case "bans":
      send("MODE", rest.trim() ? roomName(rest.trim()) : channel(), "+b");
      return;
    case "unban":
      send("MODE", channel(), "-b", needs(rest.trim(), "/unban MASK"));
      return;
    case "op":
    case "deop":
    case "voice":
    case "devoice": {
      const sign = command.startsWith("de") ? "-" : "+";
      send("MODE", channel(), sign + (command.endsWith("op") ? "o" : "v"), needs(rest.trim(), `/${command} NICK`));
      return;
    }
    case "invite":
      send("INVITE", needs(rest.trim(), "/invite NICK"), channel());
      return;
    case "nick":
      send("NICK", needs(rest.trim(), "/nick NAME"));
      return;
    case "away":
      if (rest) send("AWAY", rest);
      else raw("AWAY");
      return;
    case "room": {
      // IRC's ROOM takes the history rule (docs/irc.md); registering a room and naming its operators are our client's
      const [what = ""] = args(2);
      if (/^(history|keep|redact-mine|forget)$/i.test(what)) raw(`ROOM ${channel()} ${rest.trim()}`);
      else if (what.startsWith("#")) raw(`ROOM ${rest.trim()}`);
      else
        throw new Error(
          `/room ${what || "..."} is for chatroom's terminal client (python -m chatroom.client); here: /room history` +
            " off|since-join|all, /room keep 30d|5000|default, /room redact-mine on|off, /room forget",
        );
      return;
    }
    case "names":
      send("NAMES", rest.trim() ? roomName(rest.trim()) : channel());
      return;
    case "quit":
      chat.connection.close(rest || "leaving");
      return;
    case "displayname":
    case "avatar": {
      const key = command === "avatar" ? "avatar" : "display-name";
      if (!chat.connection.has("draft/metadata-3")) throw new Error("This server keeps no display names.");
      if (key === "avatar" && rest.trim() && !/^https:\/\/\S+$/.test(rest.trim()))
        throw new Error("An avatar is an https:// address of a picture.");
      if (!chat.setProfile(key, rest.trim())) throw new Error("Not connected: nothing was sent.");
      return;
    }
    case "quote":
    case "raw":
      raw(needs(rest, "/quote LINE"));
      return;
    case "help":
      for (const line of HELP) chat.info(line);
      return;
    default:
      raw(rest ? `${word.toUpperCase()} ${rest}` : word.toUpperCase());
  }
}

/** Our own line, shown at once when the server will not echo it back (no echo-message). */
function echo(chat, room, kind, text, reply = "") {
  if (chat.connection.has("echo-message") || !room) return;
  chat.add(room, { kind, nick: chat.me, text, time: new Date(), mine: true, reply });
}
