// Drawing the chat. Everything anyone else wrote goes into the page as text nodes, never as HTML; links become
// anchors built element by element, and nothing is ever loaded from what a message says (no previews, no images).

const $ = (id) => document.getElementById(id);
const LINK = /\bhttps?:\/\/[^\s<>"]+/g;
const FORMATTING = /\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g; // IRC's colours and bold ...
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dated = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Text someone chose, in its own direction (dir="auto" isolates it): a right-to-left name or line beside it cannot
 * reorder what stands next to it, nor a left-to-right one it. */
function chosen(className, text) {
  const node = element("span", className, text);
  node.dir = "auto";
  return node;
}

/** Text with its web addresses as links. */
function linked(text) {
  const fragment = document.createDocumentFragment();
  const plain = text.replace(FORMATTING, "");
  let start = 0;
  for (const match of plain.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]'}]+$/, "");
    fragment.append(plain.slice(start, match.index));
    const anchor = element("a", "", url);
    anchor.href = url;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer nofollow";
    fragment.append(anchor);
    start = match.index + url.length;
  }
  fragment.append(plain.slice(start));
  return fragment;
}

function when(time) {
  const node = element("time");
  const today = new Date().toDateString() === time.toDateString();
  node.textContent = (today ? clock : dated).format(time);
  node.dateTime = time.toISOString();
  node.title = full.format(time);
  return node;
}

let displayName = (nick) => ""; // what someone calls themselves: the chat's, once a View is made

/** A nickname, and the display name its person chose beside it (never instead: anyone may choose any name). */
function nickWithName(nick, shown = nick) {
  const fragment = document.createDocumentFragment();
  fragment.append(chosen("nick", shown));
  const name = nick && displayName(nick);
  if (name) fragment.append(" ", chosen("display-name", name.replace(FORMATTING, "")));
  return fragment;
}

const QUICK = ["👍", "❤️", "😂"]; // the reactions a line's buttons offer

/** `[👍 3]` for each emoji given, the most first. */
function reactions(line) {
  const counts = [...(line.reactions ?? new Map())].map(([emoji, nicks]) => [emoji, nicks.size]).filter(([, n]) => n);
  const node = element("span", "reactions");
  for (const [emoji, count] of counts.sort((a, b) => b[1] - a[1])) node.append(element("span", "reaction", `${emoji} ${count}`));
  return node;
}

function lineItem(line, room, actions = true) {
  const item = element("li", `${line.kind}${line.history ? " history" : ""}${line.mine ? " mine" : ""}`);
  if (actions) item.tabIndex = -1; // a line of the log: reached by the arrows from its one Tab stop (View.rove)
  if (line.mention) item.classList.add("mentioned");
  if (line.id) item.dataset.id = line.id;
  if (line.reply) {
    const answered = room?.line(line.reply);
    const reply = element("span", "reply", "↳ ");
    if (answered) reply.append(chosen("", answered.nick), ": ", chosen("", answered.text));
    else reply.append("a line not shown here");
    item.append(reply, " ");
  }
  // Spaces between the parts, not only CSS's margins: a screen reader said "02:49bobhello"
  item.append(when(line.time), " ");
  if (line.kind === "message" || line.kind === "notice") {
    item.append(nickWithName(line.nick, line.kind === "notice" ? `-${line.nick}-` : line.nick), " ");
  } else if (line.kind === "action") {
    item.append(nickWithName(line.nick, `* ${line.nick}`), " ");
  }
  const text = chosen("text");
  text.append(linked(line.text));
  item.append(text);
  if (line.id && line.nick) {
    item.append(" ", reactions(line));
    if (!actions) return item; // a line found by a search: its room's buttons are in its room
    const buttons = element("span", "actions");
    const whose = `${line.nick}'s line`; // which line, for a screen reader going from button to button
    for (const emoji of QUICK) buttons.append(button(emoji, "react", `React with ${emoji} to ${whose}`));
    buttons.append(button("Reply", "reply", `Reply to ${whose}`));
    item.append(buttons);
  }
  return item;
}

function button(text, action, label) {
  const node = element("button", "", text);
  node.type = "button";
  node.tabIndex = -1; // in the Tab order only on the log's current line (View.rove)
  node.dataset.action = action;
  node.setAttribute("aria-label", label);
  return node;
}

/** What a screen reader says of a new line. */
function spoken(line) {
  if (line.kind === "action") return `${line.nick} ${line.text}`;
  if (line.nick) return `${line.nick}: ${line.text}`;
  return line.text;
}

const mentioned = (count) => (count === 1 ? "mentioned once" : `mentioned ${count} times`);

const RANK_NAMES = { "@": "operator", "+": "voice" };

export class View {
  constructor(chat) {
    this.chat = chat;
    this.log = $("log");
    this.countdown = 0; // the timer counting down to the next attempt to connect
    this.lost = ""; // why the page is not connected, once said; "" while connected
    this.roving = null; // the log's line in the Tab order: the log is one Tab stop, not four a line
    this.following = true; // that line is the last, and stays the last as lines come
    this.shown = null; // the room the log shows
    this.pinned = true; // the log shows its end, and keeps showing it as the page around it changes
    displayName = (nick) => chat.displayName(nick);
    this.log.addEventListener("scroll", () => (this.pinned = this.atBottom()));
    // The banner (status), the reply bar, a taller message box ... make the log shorter, its scrollTop unchanged: the
    // newest line went out of sight below it (found by hand: "Connection lost" hid it), unless pinned again
    new ResizeObserver(() => this.pinned && this.scroll(this.log.scrollHeight)).observe(this.log);
  }

  /** Whether the log is at (or within a line of) its end: where a new line or a change of height keeps it. */
  atBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
  }

  /** Scroll the log, and remember whether that left it at its end (no scroll event comes if it did not move). */
  scroll(top) {
    this.log.scrollTop = top;
    this.pinned = this.atBottom();
  }

  /** The list of rooms, with unread counts and a mark where we were named. */
  rooms() {
    const list = $("room-list");
    list.replaceChildren();
    let [unread, mentions] = [0, 0];
    for (const room of this.chat.rooms.values()) {
      if (room.server && room !== this.chat.current && !room.unread) continue;
      const button = element("button");
      button.type = "button";
      button.dataset.room = room.name;
      button.setAttribute("aria-current", String(room === this.chat.current));
      const name = element("span", "name", room.server ? "server" : room.name);
      button.append(name);
      const labels = [room.server ? "server messages" : room.name];
      if (room.mentions) {
        button.append(element("span", "mention", "@"));
        labels.push(mentioned(room.mentions));
      }
      button.append(element("span", "badge", room.unread ? String(room.unread) : ""));
      if (room.unread) labels.push(`${room.unread} unread`);
      if (room.channel && !room.joined) labels.push("not joined");
      button.setAttribute("aria-label", labels.join(", "));
      const item = element("li", room.channel && !room.joined ? "left" : "");
      item.append(button);
      list.append(item);
      if (room === this.chat.current) continue;
      unread += room.unread;
      mentions += room.mentions;
    }
    // The Rooms button (on a phone) says what the list does: the "@" too
    $("rooms-badge").textContent = unread ? String(unread) : "";
    $("rooms-mention").textContent = mentions ? "@" : "";
    const said = [mentions && mentioned(mentions), unread && `${unread} unread`].filter(Boolean);
    $("rooms-button").setAttribute("aria-label", ["Rooms", ...said].join(", "));
  }

  /** The current room whole: heading, topic, lines, members. */
  room() {
    const room = this.chat.current;
    if (!room) return;
    this.details();
    const items = [];
    let part = "live"; // the log's part so far, said by a divider where the next begins
    for (const line of room.lines) {
      const its = line.missed ? "missed while you were away" : line.history ? "earlier, from the room's history" : "live";
      if (its !== part) items.push(element("li", "divider", (part = its)));
      items.push(lineItem(line, room));
    }
    if (this.chat.hasEarlier(room)) {
      const more = element("button", "", "Load earlier lines");
      more.type = "button";
      more.dataset.action = "earlier";
      items.unshift(element("li", "earlier"));
      items[0].append(more);
    }
    const focused = Boolean(document.activeElement?.closest("#log > li[tabindex]"));
    const kept = room === this.shown && !this.following && this.roving?.dataset.id;
    this.shown = room;
    this.log.replaceChildren(...items);
    this.scroll(this.log.scrollHeight);
    const lines = this.lines();
    this.rove((kept && lines.find((item) => item.dataset.id === kept)) || lines.at(-1), focused);
  }

  /** Lines fetched from before the earliest shown: drawn above it, what the person was looking at left in place. */
  earlier(room) {
    if (room !== this.chat.current) return;
    const below = this.log.scrollHeight - this.log.scrollTop;
    const asked = document.activeElement?.closest("#log .earlier"); // the button: the focus stays at the top
    this.room();
    this.scroll(this.log.scrollHeight - below);
    if (asked) (this.log.querySelector(".earlier button") ?? this.lines()[0])?.focus({ preventScroll: true });
  }

  /** The log's lines, dividers left out. */
  lines() {
    return [...this.log.querySelectorAll(":scope > li[tabindex]")];
  }

  /** Make `item` the log's line in the Tab order, its buttons with it (a roving tabindex), and focus it if asked. */
  rove(item, focus = false) {
    if (!item) return;
    for (const [node, index] of [[this.roving, -1], [item, 0]]) {
      if (!node) continue;
      node.tabIndex = index;
      for (const button of node.querySelectorAll("button")) button.tabIndex = index;
    }
    this.roving = item;
    this.following = item === this.log.lastElementChild;
    if (focus) item.focus();
  }

  /** The current room's heading and members. */
  details() {
    const room = this.chat.current;
    $("room-name").textContent = room.server ? "chatroom" : room.name;
    const away = room.channel && !room.joined; // left, or put out: what is typed here would only be refused
    $("input").placeholder = room.server
      ? "Type /join and a room's name"
      : away
        ? `You are not in ${room.name}: /join ${room.name} to come back`
        : `Message ${room.name}`;
    $("topic").replaceChildren(linked(room.topic));
    $("topic").title = room.topic; // cut to one line; its button shows it whole (a phone has no hover)
    $("topic-row").hidden = !room.topic;
    this.topicCut();
    $("kept").textContent = room.kept ? `${room.kept[0].toUpperCase()}${room.kept.slice(1)}.` : "";
    $("kept").title = $("kept").textContent;
    $("kept").hidden = !room.kept;
    $("settings-button").hidden = !(room.channel && room.rank(this.chat.me).includes("@"));
    $("export").hidden = !(room.channel && room.kept) || away; // everything it keeps that a member may read
    const list = $("member-list");
    list.replaceChildren();
    $("members-button").hidden = !room?.channel;
    $("members").hidden = !room?.channel;
    if (!room?.channel) return;
    const order = (member) => (member.prefix.includes("@") ? 0 : member.prefix.includes("+") ? 1 : 2);
    const members = [...room.members.values()].sort(
      (a, b) => order(a) - order(b) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }),
    );
    for (const member of members) {
      const button = element("button");
      button.type = "button";
      button.dataset.nick = member.nick;
      button.append(chosen("name", member.nick));
      const name = this.chat.displayName(member.nick);
      if (name) button.append(chosen("display-name", name.replace(FORMATTING, "")));
      const ranks = [...member.prefix].map((symbol) => RANK_NAMES[symbol]).join(", ");
      if (ranks) button.append(element("span", "rank", ranks));
      const item = element("li");
      item.append(button);
      list.append(item);
    }
    $("member-count").textContent = `(${members.length})`;
  }

  /** The topic's button, shown while the topic is cut to one line (or shown whole by it): none for a short one. */
  topicCut() {
    const topic = $("topic");
    $("topic-button").hidden = !topic.classList.contains("whole") && topic.scrollWidth <= topic.clientWidth;
  }

  /** A new line at the end of a room: drawn if it is the current one, and said aloud. */
  line(room, line) {
    if (room !== this.chat.current) return;
    const atBottom = this.atBottom();
    const last = room.lines.at(-2);
    if (last?.history && !line.history) this.log.append(element("li", "divider", "live"));
    const item = lineItem(line, room);
    this.log.append(item);
    // The current line stays the last one, unless the person moved it, or is on it (reading, or about to reply)
    if (!this.roving?.isConnected || (this.following && !this.log.contains(document.activeElement))) this.rove(item);
    if (atBottom || line.mine) this.scroll(this.log.scrollHeight);
    if (line.kind !== "event" || room.channel) this.say(spoken(line));
  }

  /** A mention or a private message out of sight, in another room: said aloud, with where it was said. */
  elsewhere(room, line) {
    if (room === this.chat.current) return; // said as it came (line)
    const where = room.channel ? ` in ${room.name}` : " (private)";
    this.say(`${line.nick}${where}: ${line.kind === "action" ? spoken(line) : line.text}`);
  }

  /** Said by a screen reader (a polite live region, out of sight). */
  say(text) {
    $("announce").textContent = text;
  }

  /** A line's reactions changed: its count drawn again. */
  reacted(room, line) {
    if (room !== this.chat.current) return;
    const item = [...this.log.children].find((node) => node.dataset.id === line.id);
    item?.querySelector(".reactions")?.replaceWith(reactions(line));
  }

  /** Who is typing in the current room, in one status line under its lines. */
  typing() {
    const typists = [...(this.chat.current?.typing.values() ?? [])].map((typist) => typist.nick);
    const shown = typists.length > 3 ? `${typists.slice(0, 3).join(", ")} and ${typists.length - 3} more` : typists.join(", ");
    $("typing").textContent = typists.length ? `${shown} ${typists.length === 1 ? "is" : "are"} typing…` : "";
  }

  /** What a search found, each line with its room, the oldest first; or why it could not be run. */
  found({ text, lines, error }) {
    $("search-title").textContent = error ? `Search for “${text}”` : `${lines.length || "Nothing"} found for “${text}”`;
    const items = (lines ?? []).map((line) => {
      const item = lineItem(line, undefined, false);
      item.children[1].before(element("span", "room", line.room), " ");
      return item;
    });
    $("found").replaceChildren(...(error ? [element("li", "error", error)] : items));
    if (!$("search-results").open) $("search-results").showModal();
  }

  status({ state, seconds, refusal }) {
    const status = $("status");
    const show = (text) => {
      status.textContent = text;
      status.hidden = !text;
    };
    clearInterval(this.countdown);
    if (state === "connected" && this.lost) this.say("Connected again.");
    if (state === "closed") {
      // Left by /quit: the page must not go on looking connected
      const left = "You have left the chat: reload the page to come back.";
      this.say(left);
      this.lost = left;
      show(left);
      return;
    }
    if (state !== "waiting") {
      if (state !== "connecting") this.lost = "";
      show(state === "connecting" ? "Connecting…" : "");
      return;
    }
    let left = seconds;
    const why = refusal ? `Not connected: ${refusal.replace(/\.?$/, ".")}` : "Connection lost.";
    // Said once (the line is no live region): a countdown read out every second drowned everything else
    if (why !== this.lost) this.say(why);
    this.lost = why;
    show(`${why} Trying again in ${left} s…`);
    this.countdown = setInterval(() => show(`${why} Trying again in ${(left = Math.max(1, left - 1))} s…`), 1000);
  }
}
