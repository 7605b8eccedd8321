"""The README and docs/ as a newcomer uses them: their commands run as written, their links lead somewhere."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from twisted.internet.error import ProcessTerminated
from twisted.python import usage
from twisted.scripts._twistd_unix import ServerOptions  # what twistd parses its command line with, on Unix
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from chatroom.app import tap
from chatroom.cli.certs import renew
from chatroom.client import __main__ as client
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.server.tls import fingerprint, read_chain
from tests.helpers import LineClient, ServerTestCase, Subprocess
from tests.test_twistd import LISTENING

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
CONTRIB = ROOT / "contrib"
VENV = Path(sys.prefix)  # the README's `.venv`: the environment running these tests
LOOPBACK = ["--listen", "tcp:0:interface=127.0.0.1", "--irc", "tcp:0:interface=127.0.0.1"]
QUICK_START = [
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/twistd -n chatroom",
    "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/python -m twisted.trial -j2 tests",
]


def sections(path: Path) -> dict[str, str]:
    """A Markdown file's text under each `## ` heading."""
    parts = re.split(r"^## (.+)\n", path.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def code_lines(text: str) -> list[str]:
    """The lines of a Markdown text's indented code blocks, in order, unindented, continued lines joined."""
    return [line[4:] for line in re.findall(r"^ {4}\S(?:.*\\\n)*.*$", text, flags=re.M)]


def commands(text: str) -> list[list[str]]:
    """Every program run by the shell lines of the code blocks, as words (`a && b`: two; `a < file`: `a`, `file`)."""
    found = []
    for line in code_lines(text):
        if not line.startswith(("python", "twistd", "pip", ".venv/", "while ")):
            continue  # a chat command, a file's content, another program
        words = shlex.shlex(line.replace("\\\n", " "), posix=True, punctuation_chars=True)
        words.whitespace_split = True
        current: list[str] = []
        for word in [*words, ";"]:
            if word not in ("&&", "|", ";", "<"):
                current.append(word)
            elif current:
                found.append(current)
                current = []
    return found


def parse_twistd(words: list[str]) -> ServerOptions:
    """`twistd ... chatroom OPTIONS` read as twistd reads it, the plugin's options included."""
    options = ServerOptions()
    options.parseOptions(words[1:])
    return options


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


class CommandTests(SynchronousTestCase):
    """What can be checked without running anything."""

    def test_the_quick_start_is_the_two_commands_ci_installs_with(self) -> None:
        self.assertEqual(code_lines(sections(README)["Quick start"]), QUICK_START)

    def test_the_readme_is_a_guide_under_2000_words(self) -> None:
        self.assertLess(len(README.read_text().split()), 2000)

    def test_every_program_is_the_virtualenvs_as_in_the_quick_start(self) -> None:
        for path in DOCS:
            for words in commands(path.read_text()):
                with self.subTest(path=path.name, command=words):
                    if Path(words[0]).name in ("twistd", "python", "pip"):
                        self.assertRegex(words[0], r"^(\.venv|/opt/chatroom)/bin/")
        bare = re.findall(r"(?<![\w/.-])(?:twistd|python) \S+ ?\S*", README.read_text())
        self.assertEqual(bare, [], "bash: twistd: command not found, from a fresh clone")

    def test_every_server_command_takes_its_options(self) -> None:
        servers = [words for path in DOCS for words in commands(path.read_text()) if words[0].endswith("/twistd")]
        self.assertGreater(len(servers), 5)
        for words in servers:
            with self.subTest(command=words):
                self.assertEqual(parse_twistd(words).subCommand, "chatroom")

    def test_every_client_command_takes_its_options(self) -> None:
        self.patch(client, "settings_path", lambda: Path(self.mktemp()) / "client.toml")  # no user's settings
        clients = [
            words[3:] for path in DOCS for words in commands(path.read_text()) if words[2:3] == ["chatroom.client"]
        ]
        self.assertGreater(len(clients), 2)
        for arguments in clients:
            with self.subTest(arguments=arguments):
                client.parse_arguments(arguments)

    def test_a_wrong_option_is_noticed(self) -> None:
        """The checks above can fail."""
        self.assertRaises(usage.UsageError, parse_twistd, [".venv/bin/twistd", "-n", "chatroom", "--auth", "always"])
        with contextlib.redirect_stderr(io.StringIO()) as usage_line:
            self.assertRaises(SystemExit, client.parse_arguments, ["--colour"])
        self.assertIn("unrecognized arguments: --colour", usage_line.getvalue())

    def test_every_program_the_readme_runs_is_checked_here(self) -> None:
        run = commands(README.read_text())
        modules = {words[2] for words in run if words[1:2] == ["-m"]}
        self.assertEqual(modules, {"venv", "chatroom.client", "twisted.trial"})
        tools = {Path(words[0]).name for words in run if Path(words[0]).name.startswith("chatroom-")}
        self.assertEqual(tools, {"chatroom-accounts", "chatroom-certs"})


class FactTests(SynchronousTestCase):
    """What the docs say of the server is what it does."""

    # Options of other programs that the server's docs name: twistd's own, irctest's (pytest) and the bench's.
    OTHERS = {"help", "logfile", "pidfile", "ignore", "protocol", "controller", "export-dir", "now"}

    def test_the_servers_docs_name_only_options_it_has(self) -> None:
        """irc.md named a --history-file that never existed (--history-store is the one)."""
        options = {option.rstrip("=") for option in tap.Options().longOpt}
        for name in ("irc.md", "web.md", "running.md"):
            named = set(re.findall(r"(?<![\w-])--([a-z][a-z-]*[a-z])", (ROOT / "docs" / name).read_text()))
            self.assertEqual(named - options - self.OTHERS, set(), name)

    def test_web_md_counts_websockets_under_the_front_end_the_metrics_say(self) -> None:
        """web.md said `irc`; the web listeners' WebSockets are counted as `web` (running.md's metrics table)."""
        web = IRCFrontEnd.serving("localhost", None, "chatroom").over_websocket()
        web_md = (ROOT / "docs" / "web.md").read_text()
        said = re.search(r"\*\*Metrics\*\* count WebSocket sessions under the `(\w+)` front end", web_md)
        assert said is not None
        self.assertEqual(said[1], web.name)

    def test_the_readme_gives_the_web_clients_javascript_size_within_a_tenth(self) -> None:
        said = re.search(r"its JavaScript is (?:about )?(\d+) KB", README.read_text())
        assert said is not None
        size = sum(path.stat().st_size for path in (ROOT / "chatroom/frontends/web/client").glob("*.js"))
        self.assertLess(abs(int(said[1]) * 1000 - size), size / 10, f"{size} bytes")


class LinkTests(SynchronousTestCase):
    def test_every_relative_link_leads_to_a_file_and_heading_that_exist(self) -> None:
        for path in DOCS:
            for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
                if re.match(r"[a-z]+:", target):
                    continue  # https: and the like
                with self.subTest(path=path.name, link=target):
                    file, _, anchor = target.partition("#")
                    linked = (path.parent / file).resolve() if file else path
                    self.assertTrue(linked.exists(), f"{path.name} links to {target}, which does not exist")
                    if anchor:
                        headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
                        self.assertIn(anchor, [slug(heading) for heading in headings])


class ContribTests(ServerTestCase):
    def test_the_systemd_unit_is_valid_and_stops_the_workers_through_their_parent(self) -> None:
        """A review: the unit a one-machine teacher is sent to had `--redis ... --workers 2` in its only ExecStart.
        Now one machine's comes first, and the one with Redis is commented out beside it."""
        unit = (CONTRIB / "chatroom.service").read_text()
        self.assertIn("\nKillMode=mixed\n", unit)
        self.assertIn("\nWorkingDirectory=/var/lib/chatroom\n", unit)
        self.assertIn("sudo -u chatroom /opt/chatroom/bin/chatroom-accounts add NAME", unit)
        starts = [
            shlex.split(start.replace("\\\n#", " ").replace("\\\n", " "))
            for start in re.findall(r"^#?ExecStart=((?:.*\\\n)*.*)$", unit, flags=re.M)
        ]
        alone, shared = (parse_twistd(words) for words in starts)
        self.assertEqual((alone.subOptions["workers"], alone.subOptions["redis"]), (1, None))
        self.assertEqual(shared.subOptions["workers"], 2)
        self.assertEqual(shared.subOptions["redis"].host, "10.0.0.5")
        words = starts[0]
        if shutil.which("systemd-analyze") is None:
            raise SkipTest("systemd-analyze is not installed (Debian: apt-get install systemd)")
        copy = Path(self.mktemp())
        copy.mkdir()
        # The unit as shipped, but for where twistd is: systemd-analyze checks that ExecStart's program exists.
        (copy / "chatroom.service").write_text(unit.replace(words[0], str(VENV / "bin" / "twistd")))
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(copy / "chatroom.service")], capture_output=True, text=True, check=False
        )
        self.assertEqual((verified.returncode, verified.stderr), (0, ""))

    async def test_the_certbot_hook_installs_the_renewed_pair_and_the_server_serves_it(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        self.certs = workdir / "certs"
        server = self.spawn(
            [str(VENV / "bin" / "twistd"), "-n", f"--pidfile={workdir / 'twistd.pid'}", "chatroom",
             "--certs", str(self.certs), "--no-irc", "--no-web", *LOOPBACK[:2]]
        )  # fmt: skip
        self.port = int((await server.until(LISTENING)).group(1))
        # certbot's live/ directory, with a renewed certificate (from the same CA, so that this test can connect)
        lineage = workdir / "live"
        shutil.copytree(self.certs, lineage)
        renew(lineage, ["chat.example.org", "localhost"])
        (lineage / "server.crt").rename(lineage / "fullchain.pem")
        (lineage / "server.key").rename(lineage / "privkey.pem")
        renewed = fingerprint(read_chain(lineage / "fullchain.pem")[0])
        before = await self.connect()
        hook = self.spawn(
            [str(CONTRIB / "certbot-deploy-hook")],
            RENEWED_LINEAGE=str(lineage),
            CHATROOM_CERTS=str(self.certs),
            CHATROOM_USER=str(os.getuid()),
            CHATROOM_PIDFILE=str(workdir / "twistd.pid"),
        )
        self.assertEqual(await hook.exit_code(), 0, hook.output)
        await server.until(f"SIGHUP: reloaded .*server.crt: SHA-256 fingerprint {renewed}")
        self.assertEqual((self.certs / "server.key").read_bytes(), (lineage / "privkey.pem").read_bytes())
        self.assertEqual(os.stat(self.certs / "server.key").st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.certs / "server.crt").st_mode & 0o777, 0o644)
        after = await self.connect()
        self.assertEqual(fingerprint(after.transport.getPeerCertificate().to_cryptography()), renewed)
        before.send("/ping still-here")
        await before.until("PONG :still-here")


class ClassWalkthroughTests(ServerTestCase):
    """README's "Run it for a class", its commands run as written in a fresh directory, on loopback."""

    def setUp(self) -> None:
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir()
        (self.workdir / ".venv").symlink_to(VENV)
        self.certs = self.workdir / "certs"
        self.passwords = {"lee": "lee's password", "sam": "sam's password"}
        self.pupils = {"ana": "ana's password", "tom": "tom's password"}
        (self.workdir / "pupils.txt").write_text("".join(f"{nick} {word}\n" for nick, word in self.pupils.items()))
        self.passwords.update(self.pupils)
        text = sections(README)["Run it for a class"]
        self.shell = [line for line in code_lines(text) if not line.startswith("/")]
        self.chat = [line for line in code_lines(text) if line.startswith("/")]

    def run_shell(self, line: str, *typed: str) -> Subprocess:
        process = self.spawn(["bash", "-c", f"cd {shlex.quote(str(self.workdir))} && {line}"])
        for text in typed:
            process.type(text + "\n")
        process.transport.closeStdin()
        return process

    async def start_server(self) -> Subprocess:  # type: ignore[override]
        [line] = [line for line in self.shell if "/twistd " in line]
        server = self.run_shell(f"exec {line} {shlex.join(LOOPBACK)}")
        self.port = int((await server.until(LISTENING)).group(1))
        return server

    async def log_in(self, nick: str) -> LineClient:
        person = await self.connect()
        person.send(f"/nick {nick}", f"/pass {self.passwords[nick]}", "/ping in")
        _, said = await person.until("PONG :in")
        self.assertNotIn("ERR", "\n".join(said))
        return person

    async def says_no_error(self, person: LineClient, *lines: str) -> list[str]:
        person.send(*lines, "/ping done")
        _, said = await person.until("PONG :done")
        self.assertEqual([line for line in said if line.startswith("ERR")], [], lines)
        return said

    async def test_the_class_walkthrough(self) -> None:
        for line in self.shell:
            if line.startswith(".venv/bin/chatroom-accounts add "):
                nick = line.split()[-1]
                added = self.run_shell(line, self.passwords[nick], self.passwords[nick])
                self.assertEqual(await added.exit_code(), 0, added.output)
            elif "chatroom-accounts" in line:  # grant, and the loop over pupils.txt
                done = self.run_shell(line)
                self.assertEqual(await done.exit_code(), 0, done.output)
        listed = self.run_shell(".venv/bin/chatroom-accounts list")
        self.assertEqual(await listed.exit_code(), 0)
        self.assertEqual(listed.output.split(), ["ana", "lee", "(admin)", "sam", "tom"])

        server = await self.start_server()
        [show] = [line for line in self.shell if "chatroom-certs" in line]
        shown = self.run_shell(show)
        self.assertEqual(await shown.exit_code(), 0, shown.output)
        served = fingerprint(read_chain(self.certs / "server.crt")[0])
        self.assertIn(served, shown.output)
        self.assertIn(served, server.output, "the fingerprint to read out is in the server's log too")
        self.assertIn("chat.school.example", shown.output)

        lee = await self.log_in("lee")
        lesson = self.chat.index("/room set moderated on")
        await self.says_no_error(lee, *self.chat[:lesson])
        ana, tom = await self.log_in("ana"), await self.log_in("tom")
        await self.says_no_error(ana, "/join maths")
        await self.says_no_error(tom, "/join maths")
        said = await self.says_no_error(lee, *self.chat[lesson:])
        self.assertIn("KICK #maths lee tom :stop it", said)
        guest = await self.connect()
        guest.send("/nick guest", "/pass a guess at a password")
        await guest.until("ERR BAD_LOGIN ")  # no guests: every nickname needs an account

        server.transport.signalProcess("TERM")
        await lee.until("BYE :server shutting down")
        ended = await server.ended
        self.assertIsInstance(ended, ProcessTerminated)
        await self.start_server()
        ana = await self.log_in("ana")
        said = await self.says_no_error(ana, "/join maths")
        self.assertIn("TOPIC #maths lee :Fractions: exercises 1 to 5, page 42", said)
        tom = await self.log_in("tom")
        tom.send("/join maths")
        await tom.until("ERR BANNED :you are banned from #maths: stop it (until ")
        sam = await self.log_in("sam")
        said = await self.says_no_error(sam, "/join maths")
        self.assertIn("NAMES #maths @sam ana", said)
