// The page's wiring: logging in, the forms and buttons, the keyboard, notifications and the title.

import { Connection, escapeTag } from "./irc.js";
import { Chat, roomName, unsafeAt, unsafeWords } from "./chat.js";
import { View } from "./view.js";
import { run, Unsendable } from "./commands.js";

const $ = (id) => document.getElementById(id);
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const connection = new Connection(`${scheme}//${location.host}/irc`);
const chat = new Chat(connection);
const view = new View(chat);
const sent = []; // lines typed, for Up and Down
let recalled = 0;
let menuNick = "";

function title() {
  let mentions = 0;
  for (const room of chat.rooms.values()) mentions += room.mentions;
  document.title = mentions ? `(${mentions}) chatroom` : "chatroom";
}

const PANELS = { sidebar: "rooms-button", members: "members-button" }; // on a phone, each behind its button

/** Open or close a panel; opening one closes the other, which it would overlap. */
function showPanel(id, open = !$(id).classList.contains("open")) {
  for (const [panel, button] of Object.entries(PANELS)) {
    const shown = panel === id && open;
    const focused = !shown && $(panel).classList.contains("open") && $(panel).contains(document.activeElement);
    $(panel).classList.toggle("open", shown);
    $(button).setAttribute("aria-expanded", String(shown));
    if (focused) $(button).focus(); // not lost to the page's body with the panel
  }
}

// On a phone the rooms and members open below the header, whose height its lines decide (style.css)
new ResizeObserver(() => {
  document.documentElement.style.setProperty("--top-height", `${$("top").getBoundingClientRect().bottom}px`);
}).observe($("top"));

const closePanels = () => showPanel("", false);

/** The focus to the message box, after logging in or choosing a room; not on a touch screen, where it would raise
 * the on-screen keyboard over the room each time. */
function toMessageBox() {
  if (!matchMedia("(pointer: coarse)").matches) $("input").focus();
}

function showApp(shown) {
  $("login-screen").hidden = shown;
  $("app").hidden = !shown;
}

chat.addEventListener("rooms", () => {
  view.rooms();
  title();
});
chat.addEventListener("room", (event) => {
  if (event.detail.room !== chat.current) return;
  if (chat.replying && chat.replying.room !== chat.current) replyTo(null); // a line of the room left behind
  view.room();
  view.typing();
});
chat.addEventListener("details", (event) => {
  if (event.detail.room === chat.current) view.details();
});
chat.addEventListener("lines", (event) => view.line(event.detail.room, event.detail.line));
chat.addEventListener("earlier", (event) => view.earlier(event.detail.room));
chat.addEventListener("reacted", (event) => view.reacted(event.detail.room, event.detail.line));
chat.addEventListener("typing", (event) => event.detail.room === chat.current && view.typing());
chat.addEventListener("found", (event) => view.found(event.detail));
chat.addEventListener("profiles", () => view.room());
connection.addEventListener("registered", () => {
  $("search-form").hidden = !connection.has("soju.im/search"); // offered when the server keeps history
});
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("search-text").value.trim();
  if (text) chat.search(text);
});
chat.addEventListener("me", () => {
  $("whoami").textContent = `You are ${chat.me}`;
  localStorage.setItem("chatroom.nick", connection.password ? connection.login : chat.me); // what the form logs in as
});
chat.addEventListener("modes", (event) => {
  if (event.detail.room === chat.current && $("settings").open) fillSettings(event.detail.room);
});
chat.addEventListener("notify", ({ detail: { room, line } }) => {
  view.elsewhere(room, line);
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const where = room.channel ? ` in ${room.name}` : "";
  const note = new Notification(`${line.nick}${where}`, { body: line.text, tag: room.name });
  note.addEventListener("click", () => {
    window.focus();
    chat.select(room);
    note.close();
  });
});

connection.addEventListener("status", (event) => view.status(event.detail));
connection.addEventListener("registered", () => {
  showApp(true);
  toMessageBox();
  if (!chat.saved().length && !chat.current?.channel) {
    const hint = "To talk, join a room: type its name or number in Join a room (under Rooms on a phone), or /join 5.";
    chat.info(hint, "info", chat.serverRoom());
  }
});
connection.addEventListener("refused", (event) => {
  showApp(false);
  $("login-error").textContent = event.detail.text;
  if (event.detail.field === "server-password") $("server-password-field").hidden = false;
  $(event.detail.field).focus();
});
$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  if (/\s/.test($("nick").value.trim())) {
    $("login-error").textContent = "A nickname is one word: no spaces.";
    $("nick").focus();
    return;
  }
  const first = $("first-room").value.trim();
  if (first) {
    chat.joining = roomName(first).toLowerCase();
    const saved = chat.saved();
    if (!saved.includes(roomName(first))) localStorage.setItem("chatroom.rooms", JSON.stringify([...saved, roomName(first)]));
  }
  if ($("register").checked && !$("password").value) {
    $("login-error").textContent = "Choose a password for the new account.";
    $("password").focus();
    return;
  }
  connection.open($("nick").value.trim(), $("password").value, $("server-password").value, $("register").checked);
});
connection.addEventListener("account", (event) => {
  chat.info(event.detail.text, event.detail.ok ? "info" : "error");
});

/** Run a typed line, or a menu's command (a message as a reply to the line `reply` names); false, with the reason
 * shown, if it could not be done. A line from the message box (`box`) that holds a character the server refuses
 * has it selected there, where it is invisible: Backspace removes it. */
function act(text, reply = "", box = false) {
  try {
    run(chat, text, reply);
    return true;
  } catch (error) {
    const select = box && error instanceof Unsendable;
    chat.info(select ? error.selected : error.message, "error");
    if (select) {
      $("input").focus();
      $("input").setSelectionRange(error.at, error.at + 1); // UNSAFE_TEXT's characters are one UTF-16 unit each
    }
    return false;
  }
}

$("compose").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("input").value;
  if (!text.trim() || !act(text, chat.replying?.id, true)) return; // a line not sent stays in the box
  sent.push(text);
  recalled = sent.length;
  $("input").value = "";
  fit();
  replyTo(null);
  typing.to = ""; // the message says we are done typing (IRCv3 typing)
});

// Enter sends; Shift+Enter (or a pasted block) makes a message of several lines, sent as one (draft/multiline).
// Escape takes back a reply the Reply button began, keeping what was typed.
$("input").addEventListener("keydown", (event) => {
  const input = event.target;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("compose").requestSubmit();
  } else if (event.key === "Escape" && chat.replying) cancelReply();
});

/** The reply a line's Reply button began ({room, id}), or none: said in a bar above the box, with a ✕; the box
 * holds only the reply's text, sent as a reply to that line. */
function replyTo(replying) {
  chat.replying = replying;
  const line = replying?.room.line(replying.id);
  $("replying").hidden = !line;
  $("replying-text").textContent = line ? `Replying to ${line.nick}: ${line.text}` : "";
}

/** Take back the reply, keeping what was typed: Escape, or the bar's ✕ (a phone has no Escape). */
function cancelReply() {
  replyTo(null);
  $("input").focus();
}
$("cancel-reply").addEventListener("click", cancelReply);

/** The box as high as its lines, up to its CSS max-height: Shift+Enter's lines stay in sight. */
function fit() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
}
$("input").addEventListener("input", fit);

// While the box holds a message, the room is told we are typing, at most every 3 s; that we stopped if emptied.
const TYPING_EVERY = 3000;
const typing = { to: "", at: 0 };
$("input").addEventListener("input", (event) => {
  const text = event.target.value;
  const room = chat.current;
  const tell = (target, state) => chat.connection.send(`@+typing=${state} TAGMSG ${target}`);
  if (text && !text.startsWith("/") && room && !room.server && !room.silenced && (room.joined || !room.channel)) {
    if (typing.to === room.name && Date.now() - typing.at < TYPING_EVERY) return;
    typing.to = room.name;
    typing.at = Date.now();
    tell(room.name, "active");
  } else if (!text && typing.to) {
    tell(typing.to, "done");
    typing.to = "";
  }
});

// A line's buttons: react with an emoji, or start a reply to it.
$("log").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const id = button?.closest("li")?.dataset.id;
  const room = chat.current;
  if (button?.dataset.action === "earlier") return chat.earlier(room);
  if (!id || !room) return;
  if (button.dataset.action === "react") {
    chat.connection.send(`@+draft/react=${escapeTag(button.textContent)};+draft/reply=${escapeTag(id)} TAGMSG ${room.name}`);
    return;
  }
  replyTo({ room, id }); // by its id: lines said before Enter must not move the reply to another line
  const input = $("input"); // what was typed stays, and is the reply's beginning
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
});

// Scrolled to its top, the log fetches the lines before (as its Load earlier lines button does)
$("log").addEventListener("scroll", (event) => {
  if (event.target.scrollTop === 0) event.target.querySelector(".earlier button")?.click();
});

// The log is one Tab stop: the arrows, Home, End, PageUp and PageDown go from line to line, and a line clicked or
// tapped becomes the current one (view.rove)
const STEPS = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10, Home: -Infinity, End: Infinity };
$("log").addEventListener("keydown", (event) => {
  const step = STEPS[event.key];
  const from = event.target.closest("#log > li[tabindex]");
  if (!step || !from || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  const lines = view.lines();
  view.rove(lines[Math.max(0, Math.min(lines.length - 1, lines.indexOf(from) + step))], true);
});
$("log").addEventListener("focusin", (event) => view.rove(event.target.closest("#log > li[tabindex]")));

$("input").addEventListener("keydown", (event) => {
  const input = event.target;
  if (event.key === "ArrowUp" && recalled > 0 && input.selectionStart === 0) {
    recalled -= 1;
  } else if (event.key === "ArrowDown" && recalled < sent.length) {
    recalled += 1;
  } else return;
  event.preventDefault();
  input.value = sent[recalled] ?? "";
  replyTo(null); // another line now: not the reply the button began
  fit();
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("join-room").value.trim();
  if (!name) return;
  const room = chat.room(roomName(name), false);
  if (room?.joined) chat.select(room);
  else {
    chat.joining = roomName(name).toLowerCase();
    chat.join([name]);
  }
  $("join-room").value = "";
  closePanels();
  toMessageBox();
});

$("room-list").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const room = chat.room(button.dataset.room, false);
  if (!room) return;
  chat.joining = ""; // the person chose where to look: a join answered later does not take them away from it
  chat.select(room);
  if (room.channel && !room.joined) chat.join([room.name]);
  closePanels();
  toMessageBox();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closePanels();
});

// The topic is cut to one line: the button beside it shows it whole, or cut again. The topic is no button itself,
// as it was: its links were controls inside a control. A click or a tap on its text (not a link) does as its button.
$("topic-button").addEventListener("click", () => {
  $("topic-button").setAttribute("aria-expanded", String($("topic").classList.toggle("whole")));
});
$("topic").addEventListener("click", (event) => event.target.closest("a") || $("topic-button").hidden || $("topic-button").click());
new ResizeObserver(() => view.topicCut()).observe($("topic")); // cut or not as the header's width changes

// What the room keeps is cut to one line too: a click, a tap, Enter or Space shows it whole, or cut again
const kept = $("kept");
const expandKept = () => kept.setAttribute("aria-expanded", String(kept.classList.toggle("whole")));
kept.addEventListener("click", expandKept);
kept.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" && event.key !== " ") return;
  event.preventDefault();
  expandKept();
});
$("rooms-button").addEventListener("click", () => showPanel("sidebar"));
$("members-button").addEventListener("click", () => showPanel("members"));
$("main").addEventListener("pointerdown", closePanels); // a tap beside an open panel, on the messages, closes it
$("leave-button").addEventListener("click", () => {
  connection.close("leaving");
  localStorage.removeItem("chatroom.rooms");
  location.reload();
});

// Notifications are asked for only when the person clicks for them
if ("Notification" in window && Notification.permission === "default") $("notify-button").hidden = false;
$("notify-button").addEventListener("click", async () => {
  await Notification.requestPermission();
  $("notify-button").hidden = Notification.permission === "default";
});

document.addEventListener("visibilitychange", () => {
  chat.visible = !document.hidden;
  if (chat.visible && chat.current) chat.select(chat.current);
});

// A member's menu: a private message for anyone; kick, ban, voice and operator for a room's operators
$("member-list").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  menuNick = button.dataset.nick;
  const room = chat.current;
  const rank = room.rank(menuNick);
  $("member-title").textContent = menuNick;
  $("member-rank").textContent = rank.includes("@") ? "operator" : rank.includes("+") ? "has voice" : "";
  $("operator-actions").hidden = !room.rank(chat.me).includes("@") || menuNick === chat.me;
  $("kick-reason").value = "";
  $("member-refusal").textContent = "";
  for (const action of ["op", "deop", "voice", "devoice"]) {
    const has = rank.includes(action.endsWith("op") ? "@" : "+");
    $("member-menu").querySelector(`[data-action="${action}"]`).hidden = action.startsWith("de") ? !has : has;
  }
  $("member-menu").showModal();
});

$("member-menu").addEventListener("click", (event) => {
  const action = event.target.closest("button")?.dataset.action;
  if (!action) return;
  if (action === "kick" || action === "ban") return kickFromMenu(action === "ban");
  const commands = {
    message: `/query ${menuNick}`,
    voice: `/voice ${menuNick}`,
    devoice: `/devoice ${menuNick}`,
    op: `/op ${menuNick}`,
    deop: `/deop ${menuNick}`,
  };
  act(commands[action]);
  $("member-menu").close();
});

/** Kick, with the reason; for Ban, then ban as /ban does (banned before the kick, they would be put out by the
 * ban itself, without the reason). The menu stays open until the server answers the kick, and says there why it
 * refused: the page cannot tell a room's owner or an administrator, whom nobody may kick, from any operator (IRC
 * shows them all as @). A refused kick's ban is not tried: it would be refused alike. */
async function kickFromMenu(ban) {
  const nick = menuNick;
  const reason = $("kick-reason").value.trim() || nick;
  const unsafe = unsafeAt(reason);
  if (unsafe.length) {
    const them = unsafe.length > 1 ? "them" : "it";
    $("member-refusal").textContent = `Not done: the reason holds ${unsafeWords(reason, unsafe)}: remove ${them}.`;
    return;
  }
  const buttons = $("operator-actions").querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  $("member-refusal").textContent = "";
  try {
    await chat.kick(chat.current.name, nick, reason);
  } catch (refusal) {
    const gone = refusal.code === "441"; // not in the room now: banned all the same
    if (!(ban && gone)) {
      if (menuNick === nick) $("member-refusal").textContent = refusal.text;
      return;
    }
  } finally {
    for (const button of buttons) button.disabled = false;
  }
  if (ban) act(`/ban ${nick}`);
  if (menuNick === nick) $("member-menu").close();
}
$("member-menu").addEventListener("close", closePanels); // its Close button too

// The room's settings, for its operators: filled from what is known, then from the server's answer to MODE, and
// sent as one MODE. A field the person changed before that answer came keeps their change.
const changed = new Set();
$("settings").addEventListener("input", (event) => changed.add(event.target.id));

function fillSettings(room) {
  const modes = room.modes ?? { flags: "", key: "", limit: "" };
  const fill = (id, property, value) => {
    if (!changed.has(id)) $(id)[property] = value;
  };
  fill("set-topic", "value", room.topic);
  for (const flag of "mistn") fill(`set-${flag}`, "checked", modes.flags.includes(flag));
  fill("set-k", "value", modes.key);
  fill("set-l", "value", modes.limit);
  // The rule as the server words it for everyone joining ("this room keeps 30 days of history, each member's...")
  fill("set-history", "value", !room.kept ? "off" : room.kept.includes("since they joined") ? "since-join" : "all");
  fill("set-keep", "value", "");
  $("set-keep").placeholder = room.kept ? `now ${/keeps (.*) of history/.exec(room.kept)?.[1] ?? "the default"}` : "";
}

$("settings-button").addEventListener("click", () => {
  const room = chat.current;
  connection.send(`MODE ${room.name}`);
  changed.clear();
  fillSettings(room);
  $("settings").showModal();
});

// Everything the room keeps that this person may read (CHATHISTORY, page by page: chat.everything), as two files
// they keep: plain text and JSON, made here (a Blob), with the times in this browser's zone as the page shows them.
$("export").addEventListener("click", async () => {
  const room = chat.current;
  const said = (count) => `${room.name}'s history: ${count.toLocaleString()} lines`;
  const show = (text) => ($("export-status").textContent = text); // one line above the log while it lasts
  $("export").disabled = true;
  show(`Downloading ${said(0)}…`);
  try {
    const kept = await chat.everything(room, (count) => show(`Downloading ${said(count)}…`));
    const lines = kept.map(({ id, time, nick, text, kind, topic }) =>
      topic
        ? { id, time: zoned(time), nick: topic.nick, text: topic.topic, action: false, topic: true }
        : { id, time: zoned(time), nick, text, action: kind === "action", topic: false },
    );
    const stem = `${room.name.slice(1)}-${zoned(new Date()).slice(0, 10)}`;
    // A line each, every line of a message of several with its time and nickname, as grep and a reader want them
    const text = lines.flatMap((l) => {
      const who = l.topic ? `-- ${l.nick} ${l.text ? "set the topic:" : "cleared the topic"}` : l.action ? `* ${l.nick}` : `<${l.nick}>`;
      return l.text.split("\n").map((part) => `${l.time.slice(0, 10)} ${l.time.slice(11, 19)} ${who}${part && " "}${part}\n`);
    });
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    download(`${stem}.txt`, new Blob(text, { type: "text/plain" }));
    download(`${stem}.json`, new Blob([JSON.stringify({ room: room.name, zone, lines }, null, 1)], { type: "application/json" }));
    chat.info(`Downloaded ${said(lines.length)}.`, "info", room);
  } catch (error) {
    chat.info(`${room.name}'s history was not downloaded: ${error.message}.`, "error", room);
  } finally {
    show("");
    $("export").disabled = false;
  }
});

/** A time in this browser's zone, ISO 8601 with its offset: 2026-12-05T13:47:05.123+05:30. */
function zoned(time) {
  const offset = -time.getTimezoneOffset();
  const local = new Date(time.getTime() + offset * 60000).toISOString().slice(0, 23);
  const [hours, minutes] = [Math.trunc(Math.abs(offset) / 60), Math.abs(offset) % 60].map((n) => String(n).padStart(2, "0"));
  return `${local}${offset < 0 ? "-" : "+"}${hours}:${minutes}`;
}

function download(name, blob) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}

$("settings").addEventListener("close", () => {
  if ($("settings").returnValue !== "save") return;
  const room = chat.current;
  const modes = room.modes ?? { flags: "", key: "", limit: "" };
  let changes = "";
  const args = [];
  for (const flag of "mistn") {
    const on = $(`set-${flag}`).checked;
    if (on !== modes.flags.includes(flag)) changes += (on ? "+" : "-") + flag;
  }
  const key = $("set-k").value.trim();
  if (key !== modes.key) {
    changes += key ? "+k" : "-k";
    args.push(key || modes.key || "*");
  }
  const limit = $("set-l").value.trim();
  if (limit !== modes.limit) {
    changes += limit ? "+l" : "-l";
    if (limit) args.push(limit);
  }
  if (changes) act(`/quote MODE ${room.name} ${changes} ${args.join(" ")}`.trim());
  if (changed.has("set-history")) act(`/quote ROOM ${room.name} history ${$("set-history").value}`);
  const keep = $("set-keep").value.trim();
  if (keep) act(`/quote ROOM ${room.name} keep ${keep}`);
  const topic = $("set-topic").value;
  if (topic !== room.topic) act(topic ? `/topic ${topic}` : `/quote TOPIC ${room.name} :`);
});

$("nick").value = localStorage.getItem("chatroom.nick") ?? "";
$("first-room").value = chat.saved()[0]?.slice(1) ?? "";
$(($("nick").value ? "password" : "nick")).focus();
