// The chat as this page knows it: rooms and private conversations, their lines, members, topics and unread counts,
// kept up to date from the server's IRC messages. It touches no DOM: view.js draws it from the events it sends.

import { format } from "./irc.js";

const HISTORY_ON_JOIN = 50;
const PAGE_MOST = 500; // lines asked for at once at most, catching up or downloading (or ISUPPORT CHATHISTORY's less)
const LOST = "the connection was lost";
const LINES_KEPT = 2000; // per room, in this page
const SERVER = "*server*"; // the key of the server's own messages (the MOTD, answers to WHOIS ...)
const ACTION = /^\x01ACTION (.*?)\x01?$/s;
const KEPT = /^(?:\S+ changed the history rule: )?(this room keeps .*)$/; // the server's word on a room's history
const PROFILE_KEYS = ["display-name", "avatar"]; // the metadata this page shows of people (draft/metadata-3)
const TYPING_SHOWN = { active: 6000, paused: 30000 }; // ms a typing notice stands without another (IRCv3 typing)
const MULTILINE = "draft/multiline";
const MARK_EVERY = 3000; // ms: while a room is watched, where it is read up to is told the server at most this often

/** Case as the server ignores it (CASEMAPPING=ascii). */
const fold = (name) => name.replace(/[A-Z]/g, (c) => c.toLowerCase());

// What a nickname in a line must not touch to be a mention: a character of nicknames (chatroom/core/names.py:
// ASCII letters, digits, []\`^{}|_-) or any letter, digit or combining mark ("Renée" and "Rennes" do not name
// ren), but one of a script written without spaces between words ("你好ren今天", "สวัสดีrenครับ" do): its letters, and
// its vowel signs too, which are combining marks (สวัสดี ends with one). No lookbehind, nor the "v" flag's set
// difference: Safari took them late, and a page that cannot parse its script is blank.
const SPACELESS = ["Han", "Hiragana", "Katakana", "Hangul", "Thai", "Lao", "Khmer", "Myanmar"];
const SPACELESS_CHARACTER = `[${SPACELESS.map((script) => `\\p{Script=${script}}`).join("")}]`;
const WORD_CHARACTER = `(?:[A-Za-z0-9\\[\\]\\\\\`^{}|_\\-]|(?!${SPACELESS_CHARACTER})[\\p{L}\\p{N}\\p{M}])`;

// The characters the server refuses in a line, as chatroom/core/names.py UNSAFE_TEXT has them (tests/
// test_browser_intl.py checks that the two match): the control characters but CTCP's and IRC's formatting codes,
// Unicode's line and paragraph separators, and the bidirectional overrides and isolates. They come pasted, unseen:
// the page finds them before sending and names them, where the server refused the line whole with a word on
// "control characters".
export const UNSAFE_TEXT = /[\x00\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f-\x9f\u2028-\u202e\u2066-\u2069]/u;
const UNSAFE_NAMES = {
  0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x0b: "LINE TABULATION", 0x0c: "FORM FEED", 0x0d: "CARRIAGE RETURN",
  0x1b: "ESCAPE", 0x7f: "DELETE", 0x85: "NEXT LINE", 0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
  0x202a: "LEFT-TO-RIGHT EMBEDDING", 0x202b: "RIGHT-TO-LEFT EMBEDDING", 0x202c: "POP DIRECTIONAL FORMATTING",
  0x202d: "LEFT-TO-RIGHT OVERRIDE", 0x202e: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
  0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE", 0x2069: "POP DIRECTIONAL ISOLATE",
};

/** Where `text` holds a character the server would refuse (UNSAFE_TEXT), but its line breaks, which make a
 * message of several lines (a command's are spaces): the indexes, in UTF-16 units as the box counts them. */
export function unsafeAt(text) {
  const found = [];
  for (const match of text.matchAll(new RegExp(UNSAFE_TEXT, "gu"))) if (match[0] !== "\n") found.push(match.index);
  return found;
}

/** The first of the characters `found` (unsafeAt's) in words, and how many more there are: "an invisible
 * character that reorders it (U+202E RIGHT-TO-LEFT OVERRIDE)". */
export function unsafeWords(text, found) {
  const code = text.codePointAt(found[0]);
  const name = UNSAFE_NAMES[code] ? ` ${UNSAFE_NAMES[code]}` : "";
  let kind = "an invisible control character";
  if (code >= 0x2028) kind = "a character some programs take for the end of a line";
  if (code >= 0x202a) kind = "an invisible character that reorders it";
  const more = found.length - 1;
  const others = more ? `, and ${more} more the server refuses` : "";
  return `${kind} (U+${code.toString(16).toUpperCase().padStart(4, "0")}${name})${others}`;
}

/** The id of the line a message answers, if it answers one (+draft/reply, or the ratified +reply). */
const replyOf = (tags) => tags["+draft/reply"] || tags["+reply"] || "";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const encoder = new TextEncoder();

/** `line` cut into pieces of at most `most` bytes, each ending at a space where one is near (kept with the piece
 * before it, so that the pieces joined again are the line), never inside a character a person sees as one. */
function pieces(line, most) {
  const cut = [];
  let piece = "";
  let bytes = 0;
  let space = -1; // where the piece could end at a word, in its characters
  // A character too long for a piece on its own (hundreds of combining marks) goes code point by code point
  const segments = [...graphemes.segment(line)].flatMap(({ segment }) => (encoder.encode(segment).length > most ? [...segment] : [segment]));
  for (const segment of segments) {
    const size = encoder.encode(segment).length;
    while (bytes + size > most && piece) {
      const end = space > piece.length / 2 ? space : piece.length;
      cut.push(piece.slice(0, end));
      piece = piece.slice(end);
      bytes = encoder.encode(piece).length;
      space = -1;
    }
    piece += segment;
    bytes += size;
    if (segment === " ") space = piece.length;
  }
  cut.push(piece);
  return cut;
}

/** A room as people type it: `5` and `lobby` are `#5` and `#lobby`. */
export const roomName = (text) => (text.startsWith("#") ? text : "#" + text);

class Room {
  constructor(name) {
    this.name = name;
    this.channel = name.startsWith("#");
    this.server = name === SERVER;
    this.lines = [];
    this.ids = new Set(); // msgids shown: a line in both a live message and a history batch is shown once
    this.members = new Map(); // folded nickname -> {nick, prefix}
    this.names = null; // members while a NAMES answer comes in
    this.topic = "";
    this.kept = ""; // what the room keeps of what is said in it, as the server tells everyone joining; "" if nothing
    this.modes = null; // {flags, key, limit} once MODE #room was answered
    this.joined = false;
    this.silenced = false; // a line of ours was refused (404): no typing notices, until its modes change or we speak
    this.unread = 0;
    this.unreadUntil = ""; // time of the last line counted unread: read elsewhere up to it, it is read here too
    this.readUntil = ""; // where the server says this person has read it up to (draft/read-marker)
    this.mentions = 0;
    this.lastStamp = ""; // time of the last room message seen: where catching up starts
    this.historyAt = -1; // where the answer to the CHATHISTORY asked goes, or -1
    this.catchingUp = false; // whether that answer is what was missed while away (unread), or the last lines
    this.entering = false; // joined, its NAMES not yet complete
    this.typing = new Map(); // folded nickname -> {nick, timer}: who is typing here, until when
    this.beginning = false; // the page has the earliest line the server keeps for us: nothing earlier to fetch
    this.fetchingEarlier = false; // a CHATHISTORY BEFORE is on its way
  }

  /** A line of this room by its id. */
  line(id) {
    return id ? this.lines.findLast((line) => line.id === id) : undefined;
  }

  rank(nick) {
    return this.members.get(fold(nick))?.prefix ?? "";
  }
}

/**
 * Events: "rooms" (the list or a count changed), "lines" {room, line} (one line added at the end), "room" {room}
 * (a room must be drawn again whole: chosen, or history inserted), "details" {room} (its members, topic or modes
 * changed), "modes" {room} (the server told its settings), "notify" {room, line} (a mention or a private
 * message), "me" (our nickname changed), "earlier" {room} (lines fetched from before the earliest shown, or not).
 */
export class Chat extends EventTarget {
  constructor(connection) {
    super();
    this.connection = connection;
    this.rooms = new Map();
    this.current = null;
    this.me = "";
    this.batches = new Map();
    this.pending = []; // {done, failed?} for each CHATHISTORY sent, in order: the server answers them in turn
    this.showing = { done: (target, messages) => this.history(target, messages) }; // an answer for the log
    this.visible = true; // whether the person sees the current room (the tab is shown)
    this.marking = 0; // the timer that tells the server where the watched room is read up to
    this.searching = ""; // what the last search asked for, shown with its answer
    this.profiles = new Map(); // folded nickname -> {key: value}: display names and avatars (draft/metadata-3)
    this.replying = null; // {room, id}: the line whose Reply button was clicked, until sent or taken back
    this.source = ""; // our nick!user@host, once a JOIN of ours showed it
    this.banning = new Map(); // WHOX token -> {room, nick, found, ends}: a ban waiting to know who NICK is
    this.kicking = null; // {room, nick, done, failed}: a kick from the members' menu, until the server answers it
    this.asked = 0; // the last token used: a ban's WHOX, a ban's or a kick's PING
    connection.addEventListener("message", (event) => this.receive(event.detail));
    connection.addEventListener("registered", () => this.registered());
    connection.addEventListener("status", (event) => {
      if (event.detail.state === "connected") return;
      for (const room of this.rooms.values()) room.joined = false;
      for (const asked of this.pending.splice(0)) asked.failed?.(LOST);
      this.kicked(false, { code: "", text: `Not done: ${LOST}.` });
    });
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  room(name, create = true) {
    const key = fold(name);
    let room = this.rooms.get(key);
    if (!room && create) {
      room = new Room(name);
      this.rooms.set(key, room);
      this.emit("rooms");
    }
    return room;
  }

  serverRoom() {
    const room = this.room(SERVER);
    if (!this.current) this.select(room);
    return room;
  }

  select(room) {
    if (this.current && this.current !== room) this.markRead(this.current); // watched until now
    this.current = room;
    room.unread = 0;
    room.mentions = 0;
    this.markRead(room);
    this.emit("rooms");
    this.emit("room", { room });
  }

  /** Tell the server this room is read up to its last line, so that this person's other devices count it read. */
  markRead(room) {
    clearTimeout(this.marking);
    this.marking = 0;
    const last = room.lines.findLast((line) => line.nick && line.time);
    const time = last?.time.toISOString() ?? "";
    if (room.server || !time || time <= room.readUntil || !this.connection.has("draft/read-marker")) return;
    room.readUntil = time;
    this.connection.send(format("MARKREAD", room.name, `timestamp=${time}`));
  }

  /** Read on another device (or answered to ours): lines said until then are no longer unread here. */
  onMARKREAD(message) {
    const [target, marker = "*"] = message.params;
    const room = this.room(target, false);
    if (!room || !marker.startsWith("timestamp=")) return;
    const time = marker.slice("timestamp=".length);
    if (time > room.readUntil) room.readUntil = time;
    if (room.unread && time >= room.unreadUntil) {
      room.unread = 0;
      room.mentions = 0;
      this.emit("rooms");
    }
  }

  remove(room) {
    this.rooms.delete(fold(room.name));
    if (this.current === room) this.current = [...this.rooms.values()].at(-1) ?? this.serverRoom();
    this.save();
    this.emit("rooms");
    this.emit("room", { room: this.current });
  }

  /** The rooms to join again on the next visit, in this browser. */
  save() {
    const names = [...this.rooms.values()].filter((room) => room.channel).map((room) => room.name);
    localStorage.setItem("chatroom.rooms", JSON.stringify(names));
  }

  saved() {
    try {
      return JSON.parse(localStorage.getItem("chatroom.rooms") || "[]");
    } catch {
      return [];
    }
  }

  join(names) {
    const wanted = names.map(roomName).filter((name) => !this.room(name, false)?.joined);
    if (wanted.length) this.connection.send(format("JOIN", wanted.join(",")));
  }

  registered() {
    this.me = this.connection.nick;
    this.emit("me");
    this.profiles.clear();
    if (this.connection.has("draft/metadata-3")) {
      // Before joining: each JOIN then tells the room's people's display names
      this.connection.send(format("METADATA", "*", "SUB", ...PROFILE_KEYS));
      for (const key of PROFILE_KEYS) {
        const value = localStorage.getItem(`chatroom.${key}`);
        if (value) this.connection.send(format("METADATA", "*", "SET", key, value));
      }
    }
    const rooms = [...this.rooms.values()].filter((room) => room.channel).map((room) => room.name);
    this.join(rooms.length ? rooms : this.saved());
  }

  /** A line in a room: drawn, counted unread if not seen, and told when it names us. */
  add(room, line) {
    if (line.id) {
      if (room.ids.has(line.id)) return;
      room.ids.add(line.id);
    }
    room.lines.push(line);
    if (room.lines.length > LINES_KEPT) room.lines.splice(0, room.lines.length - LINES_KEPT);
    this.emit("lines", { room, line });
    if (line.kind !== "message" && line.kind !== "action") return;
    if (fold(line.nick) === fold(this.me)) return;
    const seen = room === this.current && this.visible;
    if (seen && !this.marking) this.marking = setTimeout(() => this.markRead(room), MARK_EVERY);
    if (!seen) {
      room.unread += 1;
      room.unreadUntil = line.time.toISOString();
    }
    if (line.mention) {
      if (!seen) room.mentions += 1;
      this.emit("notify", { room, line });
    }
    this.emit("rooms");
  }

  info(text, kind = "info", room = this.current ?? this.serverRoom()) {
    this.add(room, { kind, text, time: new Date() });
  }

  /** Whether `text` names us: our nickname, in any case, not within a word (WORD_CHARACTER). */
  mentions(text) {
    const me = fold(this.me).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
    // No "i" flag: with "u" it would fold more than ASCII (the Kelvin sign is a k); both sides are folded instead
    return new RegExp(`(?:^|(?!${WORD_CHARACTER})[^])${me}(?!${WORD_CHARACTER})`, "u").test(fold(text));
  }

  receive(message) {
    const batch = message.tags.batch && this.batches.get(message.tags.batch);
    if (batch) {
      batch.messages.push(message);
      return;
    }
    const handler = this[`on${message.command}`];
    if (handler) handler.call(this, message);
    else if (QUIET.has(message.command)) return;
    else if (/^[45]\d\d$/.test(message.command)) this.refused(message);
    else if (/^\d\d\d$/.test(message.command)) this.answered(message);
  }

  at(message) {
    return message.tags.time ? new Date(message.tags.time) : new Date();
  }

  event(room, message, text) {
    this.add(room, { kind: "event", text, time: this.at(message) });
  }

  onBATCH(message) {
    const [ref, type, target] = message.params;
    if (ref.startsWith("+")) this.batches.set(ref.slice(1), { type, target, messages: [], opening: message });
    else {
      const batch = this.batches.get(ref.slice(1));
      this.batches.delete(ref.slice(1));
      if (batch?.type === "chathistory") (this.pending.shift() ?? this.showing).done(batch.target, batch.messages);
      else if (batch?.type === "soju.im/search") this.found(batch.messages);
      else if (batch?.type === MULTILINE) this.multiline(batch);
      else for (const inner of batch?.messages ?? []) this.receive({ ...inner, tags: { ...inner.tags, batch: "" } });
    }
  }

  /** A draft/multiline batch: one message of several lines, with the opening's id, time and tags. */
  multiline(batch) {
    const [first] = batch.messages;
    if (!first) return;
    const text = batch.messages
      .map((inner, index) => (index && !("draft/multiline-concat" in inner.tags) ? "\n" : "") + (inner.params[1] ?? ""))
      .join("");
    const { label, ...tags } = batch.opening.tags;
    this.receive({ ...first, tags, params: [first.params[0], text] });
  }

  /** Send `text` to `target`: several lines, or a line longer than IRC's 512 bytes, as one message (a
   * draft/multiline batch, a long line in pieces joined again by the server) where the server takes them, else
   * piece by piece; `tags` (escaped) go on it. Throws, sending nothing, if the server would refuse it whole. */
  say(target, text, tags = "") {
    const lines = text.split("\n").map((line) => pieces(line, this.textBytes(target)));
    const head = tags ? `@${tags} ` : "";
    if (lines.length === 1 && lines[0].length === 1) return this.connection.send(head + format("PRIVMSG", target, text));
    if (!this.connection.has(MULTILINE)) {
      return lines.flat().every((piece, index) => !piece || this.connection.send((index ? "" : head) + format("PRIVMSG", target, piece)));
    }
    const limits = Object.fromEntries((this.connection.capValue(MULTILINE) ?? "").split(",").map((pair) => pair.split("=")));
    const [bytes, most] = [encoder.encode(text).length, Number(limits["max-bytes"] || 4096)];
    if (bytes > most) throw new Error(`Too long to send: ${bytes} bytes, where one message holds ${most}. Nothing was sent.`);
    const count = lines.flat().length;
    const cap = Number(limits["max-lines"] || 24);
    if (count > cap) throw new Error(`Too long to send: ${count} lines (a long line counts as several), where one message holds ${cap}. Nothing was sent.`);
    const ref = `m${Date.now().toString(36)}`;
    const inside = lines.flatMap((parts) =>
      parts.map((piece, index) => `@batch=${ref}${index ? ";draft/multiline-concat" : ""} ` + format("PRIVMSG", target, piece)),
    );
    return [head + format("BATCH", "+" + ref, MULTILINE, target), ...inside, format("BATCH", "-" + ref)].every((line) =>
      this.connection.send(line),
    );
  }

  /** Kick `nick` from `room`: resolves once the server has put them out, rejects with its refusal ({code, text}).
   * IRC answers a client's lines in order: the next KICK of them, or refusal about them or the room, is the answer;
   * else the PONG of a PING sent after it, when the refusal was a notice (the chat degraded, with --redis). */
  kick(room, nick, reason) {
    return new Promise((done, failed) => {
      this.kicked(false, { code: "", text: "Another kick was asked for." });
      const token = `${KICKING}${(this.asked = (this.asked % 999) + 1)}`;
      const sent = this.connection.send(format("KICK", room, nick, reason));
      if (!sent || !this.connection.send(format("PING", token))) failed({ code: "", text: "Not connected: nothing was sent." });
      else this.kicking = { room: fold(room), nick: fold(nick), done, failed, token, notice: "" };
    });
  }

  /** The kick asked for (kick) is done, or refused. */
  kicked(done, refusal) {
    const asked = this.kicking;
    this.kicking = null;
    if (done) asked?.done();
    else asked?.failed(refusal);
  }

  /** Ban `nick` from `room` as chatroom's own /ban does: by account if they are logged in (a new nickname would
   * not get them past it), else by nickname and address; a WHO asks which (WHOX's account field).
   *
   * Its end is the PONG of a PING sent after it, never an end of WHO: the person's own /who of the same nickname,
   * answered first, ended it too soon, and the ban fell on the nickname alone. */
  ban(room, nick) {
    const token = String((this.asked = (this.asked % 999) + 1));
    this.banning.set(token, { room, nick, found: false, ends: 1 });
    this.connection.send(format("WHO", nick, `%tna,${token}`));
    this.connection.send(format("PING", `${BANNING}${token}`));
  }

  on354(message) {
    const [, token, nick, account] = message.params;
    const asked = this.banning.get(token);
    if (!asked) return this.answered(message);
    asked.found = true;
    const masks = account && account !== "0" ? [`R:${account}`] : [`${nick}!*@*`, `*!*@address-of-${nick}`];
    this.connection.send(format("MODE", asked.room, "+" + "b".repeat(masks.length), ...masks));
  }

  /** An end of WHO: one for each ban's WHO is hidden (any of the same nickname: they read alike). */
  on315(message) {
    const [, mask] = message.params;
    const asked = [...this.banning.values()].find((each) => each.ends && fold(each.nick) === fold(mask));
    if (asked) asked.ends -= 1;
    else this.answered(message);
  }

  /** A ban's WHO is over: one that found nobody bans the nickname typed (a guest not here now). Or a kick was
   * neither done nor refused by a numeric: the server's notice, if any, says why. */
  onPONG(message) {
    const said = message.params.at(-1) ?? "";
    if (said === this.kicking?.token) {
      this.kicked(false, { code: "", text: this.kicking.notice || "The server did not put them out." });
      return;
    }
    const asked = said.startsWith(BANNING) && this.banning.get(said.slice(BANNING.length));
    if (!asked) return;
    this.banning.delete(said.slice(BANNING.length));
    if (!asked.found) this.connection.send(format("MODE", asked.room, "+b", `${asked.nick}!*@*`));
  }

  /** A room's ban list (MODE #room +b): a line each, in words. */
  on367(message) {
    const [, name, mask, setter, at] = message.params;
    const when = Number(at) ? ` on ${new Date(Number(at) * 1000).toLocaleString()}` : "";
    this.info(`${name}: ${masked(mask)}${setter ? ` banned by ${setter.split("!")[0]}${when}` : ""}`);
  }

  /** Bytes of text one PRIVMSG to `target` may hold: the server refuses a line that, relayed with our
   * `nick!user@host` before it, would pass IRC's 512 (a host is at most 63 bytes until our own JOIN shows it). */
  textBytes(target) {
    const source = this.source || `${this.me}!${this.me}@${"h".repeat(63)}`;
    return 510 - encoder.encode(`:${source} PRIVMSG ${target} :`).length;
  }

  /** A recent line of `room` as /reply and /react name it: `^` the latest said, `^2` the one before... */
  pick(room, pick = "^") {
    const count = Number(pick.slice(1) || "1");
    const said = room.lines.filter((line) => line.id && line.nick);
    if (!pick.startsWith("^") || !Number.isInteger(count) || count < 1 || count > said.length) return undefined;
    return said.at(-count);
  }

  /** A reaction (+draft/react on a TAGMSG, with +draft/reply naming the line) or a typing notice (+typing). */
  onTAGMSG(message) {
    const [target] = message.params;
    const mine = fold(message.nick) === fold(this.me);
    const room = this.room(target.startsWith("#") || mine ? target : message.nick, false);
    if (!room) return;
    const emoji = message.tags["+draft/react"];
    const line = room.line(replyOf(message.tags));
    if (emoji && line) {
      line.reactions ??= new Map();
      if (!line.reactions.has(emoji)) line.reactions.set(emoji, new Set());
      line.reactions.get(emoji).add(fold(message.nick));
      this.emit("reacted", { room, line });
    } else if (message.tags["+typing"] && !mine) this.typed(room, message.nick, message.tags["+typing"]);
  }

  /** Someone's typing notice: shown for a while (TYPING_SHOWN), until another, or until they say a line. */
  typed(room, nick, state) {
    const key = fold(nick);
    clearTimeout(room.typing.get(key)?.timer);
    const was = room.typing.delete(key);
    if (TYPING_SHOWN[state]) {
      const timer = setTimeout(() => this.typed(room, nick, "done"), TYPING_SHOWN[state]);
      room.typing.set(key, { nick, timer });
    } else if (!was) return;
    this.emit("typing", { room });
  }

  /** Lines from the room's history, put where they were asked for and marked as history. */
  history(target, messages) {
    const room = this.room(target, false);
    if (!room) return;
    const lines = this.kept(room, messages).filter((line) => !room.ids.has(line.id));
    const at = room.historyAt < 0 ? room.lines.length : Math.min(room.historyAt, room.lines.length);
    room.historyAt = -1;
    if (!room.catchingUp && messages.length < HISTORY_ON_JOIN) room.beginning = true; // all it keeps for us
    if (!lines.length) return;
    for (const line of lines) {
      if (line.id) room.ids.add(line.id);
      line.missed = room.catchingUp; // said while we were away, not before we came
    }
    room.lines.splice(at, 0, ...lines);
    if (room.catchingUp && room !== this.current) {
      room.unread += lines.filter((line) => line.nick && !line.mine).length;
      room.mentions += lines.filter((line) => line.mention && (line.kind === "message" || line.kind === "action")).length;
      room.unreadUntil = lines.at(-1).time.toISOString();
      this.emit("rooms");
    }
    const last = messages.at(-1).tags.time;
    if (last && last > room.lastStamp) room.lastStamp = last;
    this.emit("room", { room });
  }

  /** Whether lines said before the earliest one the page shows of `room` may be fetched (earlier). */
  hasEarlier(room) {
    return room.channel && !room.beginning && room.lines.some((line) => line.id) && this.connection.has("draft/chathistory");
  }

  /** Fetch the lines said before the earliest one the page has of `room` (CHATHISTORY BEFORE): put at the top of
   * its lines, then told by an "earlier" event. */
  earlier(room) {
    const oldest = room.lines.find((line) => line.id);
    if (!oldest || room.fetchingEarlier) return;
    const asked = {
      done: (_, messages) => {
        room.fetchingEarlier = false;
        const lines = this.kept(room, messages).filter((line) => !room.ids.has(line.id));
        if (messages.length < HISTORY_ON_JOIN) room.beginning = true;
        for (const line of lines) if (line.id) room.ids.add(line.id);
        room.lines.unshift(...lines);
        this.emit("earlier", { room });
      },
      failed: (text) => {
        room.fetchingEarlier = false;
        this.info(text, "error", room);
        this.emit("earlier", { room });
      },
    };
    room.fetchingEarlier = this.askHistory(room, "BEFORE", `msgid=${oldest.id}`, HISTORY_ON_JOIN, asked);
  }

  /** A chathistory batch's messages as lines of `room`. A message of several lines comes line by line, only its
   * first with the message's id: it is one line again. A topic's change is kept too (draft/event-playback). */
  kept(room, messages) {
    const lines = [];
    for (const message of messages) {
      if (message.command === "TOPIC") {
        const [nick, topic] = [message.nick, message.params[1] ?? ""];
        const text = topic ? `${nick} set the topic: ${topic}` : `${nick} cleared the topic`;
        lines.push({ kind: "event", text, time: this.at(message), id: message.tags.msgid, history: true, topic: { nick, topic } });
        continue;
      }
      if (message.command !== "PRIVMSG" && message.command !== "NOTICE") continue; // tags alone: nothing to show
      const line = this.said(message, room, true);
      if (!line.id && lines.length) lines.at(-1).text += "\n" + line.text;
      else lines.push(line);
    }
    return lines;
  }

  /** The most lines one CHATHISTORY may ask for: the server's ISUPPORT CHATHISTORY (0 or none: no limit). */
  historyPage() {
    return Math.min(Number(this.connection.isupport.get("CHATHISTORY")) || PAGE_MOST, PAGE_MOST);
  }

  /** Ask for `room`'s history; `asked` ({done, failed}) takes the answer. */
  askHistory(room, subcommand, reference, limit, asked = this.showing) {
    if (!this.connection.send(format("CHATHISTORY", subcommand, room.name, reference, String(limit)))) return false;
    this.pending.push(asked);
    return true;
  }

  /** Everything `room` keeps that this person may read, oldest first and each line once: pages asked for back from
   * the latest until one brings nothing new, `progress(count)` after each. Rejects, with the reason, if the server
   * refuses or the connection is lost meanwhile. */
  async everything(room, progress) {
    const pages = [];
    const ids = new Set();
    let [subcommand, reference] = ["LATEST", "*"];
    for (;;) {
      const messages = await new Promise((done, failed) => {
        const asked = { done: (_, messages) => done(messages), failed: (text) => failed(new Error(text)) };
        if (!this.askHistory(room, subcommand, reference, this.historyPage(), asked)) failed(new Error(LOST));
      });
      const page = this.kept(room, messages).filter((line) => line.id && !ids.has(line.id));
      if (!page.length) return pages.reverse().flat();
      for (const line of page) ids.add(line.id);
      pages.push(page);
      progress(ids.size);
      [subcommand, reference] = ["BEFORE", `msgid=${page[0].id}`];
    }
  }

  /** Search the lines kept in our rooms (soju.im/search): answered by a "found" event. ";" separates the
   * attributes, and is no part of a word anyway. */
  search(text) {
    this.searching = text;
    return this.connection.send(format("SEARCH", `text=${text.replace(/;/g, " ")}`));
  }

  found(messages) {
    const lines = messages.map((message) => ({ room: message.params[0], ...this.said(message, { channel: true }, true) }));
    this.emit("found", { text: this.searching, lines });
  }

  /** A PRIVMSG or NOTICE as a line of `room`. */
  said(message, room, history = false) {
    const text = message.params[1] ?? "";
    const action = message.command === "PRIVMSG" && ACTION.exec(text);
    const mine = fold(message.nick) === fold(this.me);
    const direct = !room.channel && !mine;
    const server = !message.source.includes("!"); // the server's word: news of the room, not someone's line
    // The server's word on what we did ("lee changed the history rule: ...") names us, and is no mention
    const ours = server && fold(text).startsWith(`${fold(this.me)} `);
    return {
      kind: action ? "action" : server ? "event" : message.command === "NOTICE" ? "notice" : "message",
      nick: message.nick,
      text: action ? action[1] : text,
      time: this.at(message),
      id: message.tags.msgid,
      reply: replyOf(message.tags),
      history,
      mine,
      mention: !mine && !ours && (direct || this.mentions(action ? action[1] : text)), // history's too: highlighted
    };
  }

  onPRIVMSG(message) {
    const [target] = message.params;
    const channel = target.replace(/^[@+]+/, "");
    let room;
    if (channel.startsWith("#")) room = this.room(channel);
    else if (!message.source.includes("!")) room = this.current ?? this.serverRoom(); // the server's notice
    else room = this.room(fold(message.nick) === fold(this.me) ? target : message.nick);
    const line = this.said(message, room);
    if (room.channel && message.tags.time && line.id) room.lastStamp = message.tags.time;
    if (line.mine) room.silenced = false; // our own line came back (echo-message): we speak here
    this.add(room, line);
    this.typed(room, message.nick, "done"); // a line said ends its typing
  }

  onNOTICE(message) {
    const [target, text = ""] = message.params;
    if (this.kicking && !message.source.includes("!")) this.kicking.notice = text;
    const kept = !message.source.includes("!") && target.startsWith("#") && KEPT.exec(text);
    if (kept) {
      const room = this.room(target);
      room.kept = kept[1] === "this room keeps no history" ? "" : kept[1];
      this.emit("details", { room });
      if (kept[0] === kept[1]) return; // told on joining: the room's header says it; a change is news, in the log too
    }
    this.onPRIVMSG(message);
  }

  onJOIN(message) {
    const room = this.room(message.params[0]);
    if (fold(message.nick) === fold(this.me)) {
      this.source = message.source; // our nick!user@host, as others see it: how long a line of ours may be
      room.joined = true;
      room.silenced = false;
      room.entering = true; // its NAMES are the members, then its history is asked for
      room.names = null;
      if (!this.current || this.current.server || this.joining === fold(room.name)) this.select(room);
      this.joining = "";
      this.save();
      this.emit("rooms");
    } else {
      room.members.set(fold(message.nick), { nick: message.nick, prefix: "" });
      this.event(room, message, `${message.nick} joined`);
      this.emit("details", { room });
    }
  }

  left(room, nick) {
    room.members.delete(fold(nick));
    this.emit("details", { room });
  }

  onPART(message) {
    const room = this.room(message.params[0], false);
    if (!room) return;
    if (fold(message.nick) === fold(this.me)) {
      room.joined = false;
      this.remove(room);
      return;
    }
    const reason = message.params[1] ? ` (${message.params[1]})` : "";
    this.event(room, message, `${message.nick} left${reason}`);
    this.left(room, message.nick);
  }

  onKICK(message) {
    const [name, nick, reason] = message.params;
    const room = this.room(name, false);
    if (!room) return;
    const why = reason && reason !== nick ? `: ${reason}` : "";
    if (this.kicking?.room === fold(name) && this.kicking.nick === fold(nick)) this.kicked(true);
    if (fold(nick) === fold(this.me)) {
      room.joined = false;
      room.members.clear();
      this.event(room, message, `${message.nick} removed you from ${room.name}${why}`);
      this.save();
      this.emit("details", { room });
      this.emit("rooms");
    } else {
      this.event(room, message, `${message.nick} removed ${nick}${why}`);
      this.left(room, nick);
    }
  }

  onQUIT(message) {
    // chatroom, as most IRC servers, puts "Quit: " before the words a client gave ("Quit" alone: none)
    const words = (message.params[0] || "").replace(/^Quit(: |$)/, "");
    const reason = words ? ` (${words})` : "";
    for (const room of this.rooms.values()) {
      if (room.members.has(fold(message.nick))) {
        this.event(room, message, `${message.nick} quit${reason}`);
        this.left(room, message.nick);
      }
    }
  }

  onNICK(message) {
    const [nick] = message.params;
    const profile = this.profiles.get(fold(message.nick));
    this.profiles.delete(fold(message.nick));
    if (profile) this.profiles.set(fold(nick), profile);
    if (fold(message.nick) === fold(this.me)) {
      this.me = nick;
      this.source &&= nick + this.source.slice(this.source.indexOf("!"));
      this.connection.nick = nick;
      this.emit("me");
    }
    for (const room of this.rooms.values()) {
      const member = room.members.get(fold(message.nick));
      if (member) {
        room.members.delete(fold(message.nick));
        room.members.set(fold(nick), { ...member, nick });
        this.event(room, message, `${message.nick} is now ${nick}`);
        this.emit("details", { room });
      }
    }
    const query = this.rooms.get(fold(message.nick));
    if (query && !query.channel) {
      this.rooms.delete(fold(message.nick));
      query.name = nick;
      this.rooms.set(fold(nick), query);
      this.emit("rooms");
    }
  }

  onTOPIC(message) {
    const [name, topic] = message.params;
    const room = this.room(name);
    room.topic = topic ?? "";
    this.event(room, message, topic ? `${message.nick} set the topic: ${topic}` : `${message.nick} cleared the topic`);
    this.emit("details", { room });
  }

  on332(message) {
    const room = this.room(message.params[1]);
    room.topic = message.params[2] ?? "";
    this.emit("details", { room });
  }

  on331(message) {
    const room = this.room(message.params[1]);
    room.topic = "";
    this.emit("details", { room });
  }

  on353(message) {
    const room = this.room(message.params[2], false);
    if (!room) return this.answered(message);
    room.names ??= new Map();
    for (const word of (message.params[3] ?? "").split(" ").filter(Boolean)) {
      const nick = word.replace(/^[@+]+/, "");
      room.names.set(fold(nick), { nick, prefix: word.slice(0, word.length - nick.length) });
    }
  }

  on366(message) {
    const room = this.room(message.params[1], false);
    if (!room || !room.names) return;
    room.members = room.names;
    room.names = null;
    this.emit("details", { room });
    if (!room.entering) {
      // an answer to /names
      const names = [...room.members.values()].map((member) => member.prefix + member.nick);
      this.info(`In ${room.name}: ${names.join(" ")}`);
      return;
    }
    room.entering = false;
    if (this.connection.has("draft/chathistory")) {
      // the first time, the last lines; back after a loss, everything said since the last line seen
      const reference = room.lastStamp ? `timestamp=${room.lastStamp}` : "*";
      room.historyAt = room.lines.length;
      room.catchingUp = reference !== "*";
      this.askHistory(room, "LATEST", reference, room.catchingUp ? this.historyPage() : HISTORY_ON_JOIN);
    }
  }

  onMODE(message) {
    const [target, changes, ...args] = message.params;
    if (!target.startsWith("#")) return;
    const room = this.room(target, false);
    if (!room) return;
    room.silenced = false; // a voice given, a room no longer moderated...: typing notices may go again
    let sign = "+";
    let index = 0;
    const said = [];
    const ended = []; // bans and mutes whose time ran out: the server's MODE -b, which nobody did
    const server = !message.source.includes("!");
    for (const mode of changes) {
      if (mode === "+" || mode === "-") {
        sign = mode;
        continue;
      }
      const takesArg = "ovbeIk".includes(mode) || (mode === "l" && sign === "+");
      const arg = takesArg ? args[index++] : undefined;
      if (server && sign === "-" && mode === "b" && arg) ended.push(banEnded(arg));
      else said.push(modeChange(sign, mode, arg));
      const member = arg && room.members.get(fold(arg));
      if (member && (mode === "o" || mode === "v")) {
        const symbol = mode === "o" ? "@" : "+";
        const ranks = new Set(member.prefix);
        if (sign === "+") ranks.add(symbol);
        else ranks.delete(symbol);
        member.prefix = ["@", "+"].filter((rank) => ranks.has(rank)).join("");
      } else if (room.modes) {
        if ("imnst".includes(mode)) {
          const flags = new Set(room.modes.flags);
          if (sign === "+") flags.add(mode);
          else flags.delete(mode);
          room.modes.flags = [...flags].join("");
        } else if (mode === "k") room.modes.key = sign === "+" ? arg : "";
        else if (mode === "l") room.modes.limit = sign === "+" ? arg : "";
      }
    }
    const done = said.length ? [`${message.nick} ${said.join(", ")}`] : [];
    this.event(room, message, [...done, ...ended].join("; "));
    this.emit("details", { room });
  }

  on324(message) {
    const [, name, changes, ...args] = message.params;
    const room = this.room(name, false);
    if (!room) return;
    const modes = { flags: "", key: "", limit: "" };
    let index = 0;
    for (const mode of changes.replace("+", "")) {
      if (mode === "k") modes.key = args[index++] ?? "";
      else if (mode === "l") modes.limit = args[index++] ?? "";
      else modes.flags += mode;
    }
    room.modes = modes;
    this.emit("details", { room });
    this.emit("modes", { room });
  }

  /** Set (or, with "", remove) one of our own display name and avatar: kept in this browser, and set again at each
   * connection, as the server forgets them when we leave. */
  setProfile(key, value) {
    if (value) localStorage.setItem(`chatroom.${key}`, value);
    else localStorage.removeItem(`chatroom.${key}`);
    return this.connection.send(value ? format("METADATA", "*", "SET", key, value) : format("METADATA", "*", "SET", key));
  }

  /** What someone calls themselves, if they said, and not their nickname already. */
  displayName(nick) {
    const name = this.profiles.get(fold(nick))?.["display-name"] ?? "";
    return fold(name) === fold(nick) ? "" : name;
  }

  /** A person's or a room's metadata: a key set (761) or removed (766), asked for or told as it changes. */
  on761(message) {
    const [, target, key, , value] = message.params;
    this.profile(target, key, value);
  }

  on766(message) {
    const [, target, key] = message.params;
    this.profile(target, key, "");
  }

  profile(target, key, value) {
    if (target.startsWith("#") || target === "*" || !PROFILE_KEYS.includes(key)) return;
    const profile = this.profiles.get(fold(target)) ?? {};
    if (value) profile[key] = value;
    else delete profile[key];
    this.profiles.set(fold(target), profile);
    this.emit("profiles");
  }

  onFAIL(message) {
    const asked = message.params[0] === "CHATHISTORY" ? this.pending.shift() : undefined;
    if (message.params[0] === "SEARCH") this.emit("found", { text: this.searching, error: message.params.at(-1) });
    else if (asked?.failed) asked.failed(message.params.at(-1));
    else this.info(message.params.at(-1), "error");
  }

  onERROR(message) {
    this.info(message.params[0] ?? "", "error");
  }

  refused(message) {
    const about = message.params[1] ?? "";
    const named = about.startsWith("#") && this.room(about, false);
    const room = named || this.current || this.serverRoom();
    if (named && message.command === "404") room.silenced = true; // ERR_CANNOTSENDTOCHAN: a typing notice would be too
    const text = message.params.at(-1);
    const subjects = message.params.slice(1, -1).map(fold); // whom or which room it is about
    const kicking = this.kicking;
    if (kicking && KICK_REFUSALS.has(message.command) && subjects.some((s) => s === kicking.room || s === kicking.nick)) {
      this.kicked(false, { code: message.command, text });
    }
    const last = room.lines.at(-1);
    if (last?.kind === "error" && last.text === text) return; // a typing notice's refusal, then its line's: once
    this.info(text, "error", room);
  }

  answered(message) {
    const text = message.params.slice(1).join(" ");
    if (text) this.info(text, "info", MOTD.has(message.command) ? this.serverRoom() : undefined);
  }
}

/** A ban's mask as a person says it: "the account ana", "tom" for tom!*@*, else the mask. */
function masked(mask) {
  if (/^account:/i.test(mask)) return `the account ${mask.slice("account:".length)}`;
  return mask.endsWith("!*@*") ? mask.slice(0, -4) : mask;
}

/** A timed ban's or mute's end, as the terminal client says it: "the mute on tom ended". */
function banEnded(mask) {
  return mask.startsWith("m:") ? `the mute on ${masked(mask.slice(2))} ended` : `the ban on ${masked(mask)} ended`;
}

/** A room's mode change as a person says it: "made ana an operator", "made the room moderated". */
function modeChange(sign, mode, maskOrNick) {
  const on = sign === "+";
  const arg = "beI".includes(mode) && maskOrNick ? masked(maskOrNick) : maskOrNick;
  const mute = maskOrNick?.startsWith("m:") && masked(maskOrNick.slice(2));
  const words = {
    o: on ? `made ${arg} an operator` : `took operator from ${arg}`,
    v: on ? `gave ${arg} voice` : `took voice from ${arg}`,
    b: mute ? (on ? `muted ${mute}` : `lifted the mute on ${mute}`) : on ? `banned ${arg}` : `lifted the ban on ${arg}`,
    e: on ? `let ${arg} past the bans` : `took back the exception for ${arg}`,
    I: on ? `let ${arg} in without an invitation` : `took back ${arg}'s entry`,
    m: on ? "made the room moderated: only operators and people with voice speak" : "ended moderation: everyone speaks",
    i: on ? "made the room invitation only" : "opened the room to everyone",
    s: on ? "made the room secret" : "listed the room again",
    t: on ? "let only operators change the topic" : "let everyone change the topic",
    n: on ? "kept those outside from sending to the room" : "let those outside send to the room",
    k: on ? "set a key to join" : "removed the key",
    l: on ? `limited the room to ${arg} members` : "removed the member limit",
    C: on ? "refused CTCP requests in the room" : "allowed CTCP requests in the room",
  };
  return words[mode] ?? `set ${sign}${mode}${arg ? " " + arg : ""}`;
}

const BANNING = "chatroom-ban-"; // a ban's PING: its PONG ends the ban's WHO
const KICKING = "chatroom-kick-"; // a kick's PING: its PONG comes after the kick's answer

// What the server refuses a KICK with: no such nick or room, not in it (them or us), not allowed (an operator
// kicking the room's owner or an administrator, whom IRC shows as any operator: PREFIX has nothing above @)
const KICK_REFUSALS = new Set(["401", "403", "441", "442", "482"]);

// Numerics the page shows in its own way, or that say nothing a person needs
const QUIET = new Set(["002", "003", "004", "005", "251", "252", "253", "254", "255", "265", "266", "333", "329",
  "366", "375", "376", "422", "770", "771", "772", "900", "903", "908"]);
const MOTD = new Set(["001", "372"]);
