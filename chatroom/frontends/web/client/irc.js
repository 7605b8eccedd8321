// IRC over the IRCv3 WebSocket transport: one message per WebSocket message, no CRLF.
// This module knows the wire and the connection's life (registration, SASL, reconnection); chat.js knows the chat.

const WANTED = [
  "batch",
  "draft/chathistory",
  "draft/event-playback",
  "draft/metadata-3",
  "draft/multiline",
  "draft/read-marker",
  "echo-message",
  "message-tags",
  "multi-prefix",
  "server-time",
  "soju.im/search",
];
const BACKOFF_MAX = 30; // seconds between attempts, at most

const TAG_ESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

/** One IRC message as a plain object: {tags, source, nick, command, params}. */
function parse(line) {
  let rest = line;
  const tags = {};
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    for (const tag of rest.slice(1, end).split(";")) {
      const eq = tag.indexOf("=");
      const key = eq < 0 ? tag : tag.slice(0, eq);
      const value = eq < 0 ? "" : tag.slice(eq + 1);
      tags[key] = value.replace(/\\(.?)/g, (_, c) => TAG_ESCAPES[c] ?? c);
    }
    rest = rest.slice(end + 1).trimStart();
  }
  let source = "";
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    source = rest.slice(1, end);
    rest = rest.slice(end + 1).trimStart();
  }
  const params = [];
  while (rest) {
    if (rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(" ");
    if (end < 0) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).trimStart();
  }
  const command = (params.shift() || "").toUpperCase();
  return { tags, source, nick: source.split("!")[0], command, params };
}

/** A tag's value as IRCv3 escapes it. */
export const escapeTag = (value) => value.replace(/[\\; \r\n]/g, (c) => ({ "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" })[c]);

/** A line to send: the last parameter may hold spaces (it always gets a colon, so an empty one is kept). */
export function format(command, ...params) {
  const last = params.pop();
  for (const param of params) {
    if (!param || /[\s:]/.test(param[0]) || /[\s]/.test(param)) throw new Error(`bad parameter ${param}`);
  }
  const words = [command, ...params];
  if (last !== undefined) words.push(":" + last);
  return words.join(" ").replace(/[\r\n]/g, " ");
}

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/**
 * A connection that registers and, once registered, keeps itself up: after a loss it tries again after 1, 2, 4 ...
 * 30 seconds. Events: "status" {state, seconds}, "message" (each parsed message), "registered", "refused" {text}
 * (the first registration failed: the person must change something, nothing is retried).
 */
export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.socket = null;
    this.caps = new Set();
    this.offered = new Map(); // what the server's CAP LS offered: capability -> its value
    this.isupport = new Map(); // what the server's 005 says it supports: CHATHISTORY=500 ...
    this.nick = "";
    this.login = ""; // the account the password is for: the nickname logged in with, whatever it is now
    this.password = "";
    this.serverPassword = ""; // the server's own (IRC's PASS, --irc-password), asked for only when it wants one
    this.registering = false; // register the nickname with the password (draft/account-registration), once connected
    this.registered = false;
    this.everRegistered = false;
    this.attempt = 0;
    this.timer = 0;
    this.wantOpen = false;
    this.refusal = ""; // why the server refused us, told if the connection ends before registering
    this.refusedField = ""; // and which field of the login form the person must change
  }

  /** Connect and register as `nick`, logging in with `password` when one is given, after the server's own; with
   * `registering`, make `nick` an account with `password` instead, once connected. */
  open(nick, password, serverPassword = "", registering = false) {
    const old = this.socket;
    this.socket = null; // its end, if it was still trying, is not this connection's
    old?.close(1000);
    this.nick = nick;
    this.login = nick;
    this.password = password;
    this.serverPassword = serverPassword;
    this.registering = registering;
    this.wantOpen = true;
    this.everRegistered = false;
    this.attempt = 0;
    this.connect();
  }

  close(reason) {
    this.wantOpen = false;
    clearTimeout(this.timer);
    if (this.socket) {
      if (this.registered) this.send(format("QUIT", reason || "leaving"));
      this.socket.close(1000);
    } else this.status("closed"); // waiting to try again: no more waiting
  }

  /** Send a line now; false when there is no connection to send it on. */
  send(line) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(line);
    return true;
  }

  has(cap) {
    return this.caps.has(cap);
  }

  /** A capability's value as CAP LS gave it (draft/multiline's "max-bytes=4096,max-lines=24"), if it was taken. */
  capValue(cap) {
    return this.caps.has(cap) ? this.offered.get(cap) : undefined;
  }

  status(state, extra = {}) {
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...extra } }));
  }

  connect() {
    clearTimeout(this.timer);
    this.registered = false;
    this.caps = new Set();
    this.isupport = new Map();
    this.status("connecting");
    const socket = new WebSocket(this.url, ["text.ircv3.net"]);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.serverPassword) this.send(format("PASS", this.serverPassword));
      this.send("CAP LS 302");
      this.send(format("NICK", this.nick));
      this.send(format("USER", this.nick, "0", "*", this.nick));
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.receive(parse(event.data));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.registered = false;
      if (this.wantOpen && this.everRegistered) this.retry(this.refusal);
      else if (this.wantOpen) {
        this.wantOpen = false;
        const text = this.refusal || "Could not reach the server.";
        this.dispatchEvent(new CustomEvent("refused", { detail: { text, field: this.refusedField || "nick" } }));
      } else this.status("closed");
      this.refusal = this.refusedField = "";
    });
  }

  /** Try again after a while; `refusal`: the server refused us coming back, which may pass (a slow-down after
   * failed logins, the server busy checking passwords), or may not (the password changed): said meanwhile. */
  retry(refusal = "") {
    const seconds = Math.min(BACKOFF_MAX, 2 ** this.attempt) * (0.8 + 0.4 * Math.random());
    this.attempt += 1;
    this.status("waiting", { seconds: Math.ceil(seconds), refusal });
    this.timer = setTimeout(() => this.connect(), seconds * 1000);
  }

  /** The nickname or a password is refused: before the first registration the person must change something, and
   * the login form is shown again with the reason; coming back, it is tried again later, the reason shown. */
  refuse(text, field = "nick") {
    this.refusal = text;
    this.refusedField = field; // the login form's field to change: "nick", "password" or "server-password"
    this.socket?.close(1000);
  }

  account(ok, text) {
    this.dispatchEvent(new CustomEvent("account", { detail: { ok, text } }));
  }

  receive(message) {
    const [first, second] = message.params;
    switch (message.command) {
      case "PING":
        this.send(format("PONG", first ?? ""));
        return;
      case "CAP":
        this.negotiate(second, message.params.at(-1));
        return;
      case "AUTHENTICATE":
        if (first === "+") this.send(format("AUTHENTICATE", base64(`${this.login}\0${this.login}\0${this.password}`)));
        return;
      case "903":
        this.send("CAP END");
        return;
      case "904":
      case "905":
        this.refuse("Wrong password for this nickname.", "password");
        return;
      case "001":
        this.nick = first;
        this.registered = true;
        this.everRegistered = true;
        this.attempt = 0;
        this.status("connected");
        this.dispatchEvent(new CustomEvent("registered"));
        if (this.registering) this.send(format("REGISTER", "*", "*", this.password));
        break;
      case "005":
        for (const token of message.params.slice(1, -1)) {
          const eq = token.indexOf("=");
          this.isupport.set(eq < 0 ? token : token.slice(0, eq), eq < 0 ? "" : token.slice(eq + 1));
        }
        break;
      case "REGISTER":
        if (first === "SUCCESS") {
          this.registering = false; // from now on a reconnection logs in to the account
          this.login = second;
          this.account(true, `${second} is registered: you are logged in to it.`);
        }
        return;
      case "FAIL":
        if (first === "REGISTER") {
          this.registering = false;
          this.account(false, `Not registered: ${message.params.at(-1)}`);
          return;
        }
        // Why the ERROR that follows closes us (FAIL * TOO_MANY_SESSIONS: the person has as many connections as
        // allowed), in the server's words without ERROR's "Closing link: "
        if (!this.registered) this.refusal ||= message.params.at(-1);
        break;
      case "433":
        if (!this.registered) {
          if (this.everRegistered) {
            // our own ghost may still hold it after a reconnection: an account's own name first, else another
            const own = this.password && this.nick.toLowerCase() !== this.login.toLowerCase();
            this.nick = own ? this.login : this.nick.length < 19 ? this.nick + "_" : this.nick.slice(0, -1);
            this.send(format("NICK", this.nick));
          } else
            this.refuse(
              this.password
                ? `The nickname ${second} is taken.`
                : `The nickname ${second} is taken, or registered: give its password, or choose another.`,
              this.password ? "nick" : "password",
            );
          return;
        }
        break;
      case "432":
        if (!this.registered) return this.refuse(`${second} is not a valid nickname: ${message.params.at(-1)}`, "nick");
        break;
      case "464":
        if (!this.registered)
          return this.refuse(
            this.serverPassword
              ? "Wrong server password."
              : "This server asks for its own password first: whoever runs it can give it to you.",
            "server-password",
          );
        break;
      case "ERROR":
        if (!this.registered && !this.refusal) this.refusal = first;
        break;
      default:
        if (!this.registered && /^[45]\d\d$/.test(message.command)) this.refusal ||= message.params.at(-1);
    }
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
  }

  negotiate(sub, list) {
    if (sub === "LS") {
      const offered = new Map(list.split(" ").map((cap) => [cap.split("=")[0], cap.split("=").slice(1).join("=")]));
      this.offered = offered;
      const wanted = WANTED.filter((cap) => offered.has(cap));
      if (this.registering && !offered.has("draft/account-registration"))
        return this.refuse("This server does not let people register accounts here: ask whoever runs it for one.");
      if (this.registering) wanted.push("draft/account-registration");
      else if (this.password && offered.has("sasl")) wanted.push("sasl");
      else if (this.password && !this.serverPassword) this.send(format("PASS", this.password)); // no SASL: PASS says it
      if (wanted.length) this.send(format("CAP", "REQ", wanted.join(" ")));
      else this.send("CAP END");
    } else if (sub === "ACK") {
      for (const cap of list.split(" ")) this.caps.add(cap);
      if (this.caps.has("sasl") && this.password && !this.registering) this.send("AUTHENTICATE PLAIN");
      else this.send("CAP END");
    } else if (sub === "NAK") {
      this.send("CAP END");
    }
  }
}
