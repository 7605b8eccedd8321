"""`twistd chatroom`'s options: what an administrator types becomes the running server's settings."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from twisted.logger import LogLevel, formatEvent
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from chatroom.app import tap
from chatroom.app.service import ChatService
from chatroom.core.errors import ChatError
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.server import tls
from chatroom.server.limits import ConnectionLimits
from tests.helpers import ServiceReactor, observe_log
from tests.test_tls import self_signed_rsa


class OptionsTests(SynchronousTestCase):
    def parse(self, *arguments: str) -> tap.Options:
        options = tap.Options()
        options.parseOptions(list(arguments))
        return options

    def test_an_option_another_makes_idle_is_said_at_start(self) -> None:
        """`--history-age 1d` without --history, `--web-hsts` with --no-web, `--max-sessions 3` with
        --no-multiclient: accepted without a word, as if in force."""
        logged = observe_log(self)
        self.parse("--history-age", "1d", "--history-store", "memory", "--no-web", "--web-hsts", "--no-multiclient",
                   "--max-sessions", "3")  # fmt: skip
        warned = [formatEvent(event) for event in logged if event["log_level"] == LogLevel.warn]
        self.assertEqual(
            warned,
            [
                "--history-age has no effect: without --history N nothing is kept",
                "--history-store has no effect: without --history N nothing is kept",
                "--web-hsts has no effect: no web listener is served",
                "--max-sessions has no effect: --no-multiclient allows one",
            ],
        )
        self.parse("--history", "100", "--history-age", "1d", "--max-sessions", "3")
        self.assertEqual(len([event for event in logged if event["log_level"] == LogLevel.warn]), 4, "in use: quiet")

    def test_defaults(self) -> None:
        options = self.parse()
        self.assertEqual(options["listen"], ["tcp:5050:backlog=1024"], "a burst of a thousand connects fits")
        self.assertEqual(options["certs"], "certs")

    def test_listen_is_repeatable_and_plain(self) -> None:
        self.assertEqual(self.parse("-l", "tcp:1", "--listen", "unix:/tmp/s")["listen"], ["tcp:1", "unix:/tmp/s"])
        error = self.assertRaises(usage.UsageError, self.parse, "--listen", "ssl:5050")
        self.assertIn("chatroom adds TLS itself", str(error))
        # Twisted's PROXY protocol wrapper starts the connection before it knows the client's address.
        error = self.assertRaises(usage.UsageError, self.parse, "--listen", "haproxy:tcp:5050")
        self.assertIn("the PROXY protocol (haproxy:) is not supported yet", str(error))

    def test_irc_is_served_with_tls_on_6697_unless_told_otherwise(self) -> None:
        self.assertEqual((self.parse()["irc"], self.parse()["irc-plaintext"]), (["tcp:6697:backlog=1024"], []))
        plaintext = self.parse("--irc-plaintext", "tcp:6667:interface=127.0.0.1")
        self.assertEqual((plaintext["irc"], plaintext["irc-plaintext"]), ([], ["tcp:6667:interface=127.0.0.1"]))
        self.assertEqual(self.parse("--no-irc")["irc"], [])
        error = self.assertRaises(usage.UsageError, self.parse, "--no-irc", "--irc", "tcp:7000")
        self.assertIn("--no-irc serves no IRC", str(error))
        error = self.assertRaises(usage.UsageError, self.parse, "--irc", "ssl:6697")
        self.assertIn("chatroom adds TLS itself", str(error))

    def test_the_web_is_served_with_https_on_8443_unless_told_otherwise(self) -> None:
        self.assertEqual((self.parse()["web"], self.parse()["web-plaintext"]), (["tcp:8443:backlog=1024"], []))
        plaintext = self.parse("--web-plaintext", "tcp:8080:interface=127.0.0.1")
        self.assertEqual((plaintext["web"], plaintext["web-plaintext"]), ([], ["tcp:8080:interface=127.0.0.1"]))
        self.assertEqual(self.parse("--no-web")["web"], [])
        error = self.assertRaises(usage.UsageError, self.parse, "--no-web", "--web", "tcp:7000")
        self.assertIn("--no-web serves no web site", str(error))
        error = self.assertRaises(usage.UsageError, self.parse, "--web", "ssl:443")
        self.assertIn("chatroom adds TLS itself", str(error))

    def test_web_origins_are_scheme_host_and_port(self) -> None:
        given = self.parse("--web-origin", "HTTPS://Chat.Example.org/", "--web-origin", "http://localhost:8080")
        self.assertEqual(given["web-origin"], ["https://chat.example.org", "http://localhost:8080"])
        for wrong in ("chat.example.org", "https://chat.example.org/path", "ftp://x", "https://a@b"):
            error = self.assertRaises(usage.UsageError, self.parse, "--web-origin", wrong)
            self.assertIn("--web-origin takes scheme://host[:port]", str(error))

    def test_the_hostname_is_a_host_name_or_an_ip_address_as_chatroom_certs_takes(self) -> None:
        """It goes into the certificate and is IRC's source of every message: a space or a '!' broke both."""
        for wrong in ("a b", "bad_host!", "-foo", "x" * 64 + ".example"):
            error = self.assertRaises(usage.UsageError, self.parse, "--hostname", wrong)
            self.assertEqual(
                str(error), f"--hostname must be a host name or an IP address, such as chat.example.org; not {wrong!r}"
            )
        self.assertEqual(self.parse("--hostname", "Chat.Example.org")["hostname"], "Chat.Example.org")
        self.assertEqual(self.parse("--hostname", "bücher.example")["hostname"], "xn--bcher-kva.example")
        self.assertEqual(self.parse("--hostname", "192.0.2.10")["hostname"], "192.0.2.10")
        config = Path(self.mktemp())
        config.write_text('hostname = "a b"\n')
        error = self.assertRaises(usage.UsageError, self.parse, "--config", str(config))
        self.assertIn("--hostname must be a host name", str(error))
        with mock.patch("socket.gethostname", return_value="my_laptop"):
            self.assertEqual(tap._default_hostname(), "localhost", "a machine's odd name does not stop the server")
        with mock.patch("socket.gethostname", return_value="laptop"):
            self.assertEqual(tap._default_hostname(), "laptop")

    def test_the_help_says_what_sighup_applies_and_what_the_certificate_names(self) -> None:
        """--config's help said SIGHUP applies the limits and the MOTD, not registration and password-min; --hostname's
        named localhost alone of the names a generated certificate has besides it."""
        help = {name: text for name, _, _, text, *_ in tap.Options.optParameters}
        for reloaded in ("limits", "MOTD", "registration", "password-min"):
            self.assertIn(reloaded, help["config"])
        certs = Path(self.mktemp())
        tls.create(certs, "chat.example.org")
        names = tls.names_of(tls.read_chain(certs / "server.crt")[0])
        self.assertIn("chat.example.org", names)
        for name in names:
            if name != "chat.example.org":
                self.assertIn(name, help["hostname"])

    def test_each_listener_speaks_its_dialect(self) -> None:
        options = self.parse(
            "--certs", self.mktemp(), "--listen", "tcp:5050", "--irc", "tcp:6697", "--irc-plaintext", "tcp:6667",
            "--web", "tcp:8443", "--web-plaintext", "tcp:8080", "--hostname", "chat.example.org", "--irc-password",
            "sesame",
        )  # fmt: skip
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService)
        spoken = [(listener.dialect.name, listener.tls, listener.site is not None) for listener in service.listeners]
        self.assertEqual(
            spoken,
            [
                ("line", True, False),
                ("irc", True, False),
                ("irc", False, False),
                ("web", True, True),
                ("web", False, True),
            ],
        )
        web = service.listeners[3].dialect
        self.assertTrue(issubclass(web, service.listeners[1].dialect))  # IRC over WebSocket is IRC
        self.assertEqual(web.name, "web")  # counted and listed under its own name
        irc = service.listeners[1].dialect
        assert issubclass(irc, IRCFrontEnd)
        self.assertEqual((irc.server, irc.password), ("chat.example.org", "sesame"))

    def test_limits_have_minimums(self) -> None:
        error = self.assertRaises(usage.UsageError, self.parse, "--max-line", "10")
        self.assertEqual(str(error), "--max-line must be at least 64, and a finite number")
        self.assertRaises(usage.UsageError, self.parse, "--idle-timeout", "nan")
        self.assertRaises(usage.UsageError, self.parse, "--flood-rate", "0")
        self.assertRaises(usage.UsageError, self.parse, "--max-per-address", "0")
        error = self.assertRaises(usage.UsageError, self.parse, "--history-memory", "lots")
        self.assertEqual(str(error), "--history-memory must be a size of at least 1MB, such as 256MB or 2GB; not lots")

    def test_the_motd_from_a_file(self) -> None:
        error = self.assertRaises(usage.UsageError, self.parse, "--motd", "hi", "--motd-file", "motd.txt")
        self.assertEqual(str(error), "give the message of the day with --motd or --motd-file, not both")
        motd = Path(self.mktemp())
        options = self.parse("--certs", self.mktemp(), "--listen", "tcp:0", "--motd-file", str(motd))
        exit = self.assertRaises(SystemExit, tap.makeService, options, ServiceReactor())
        self.assertEqual(str(exit), f"chatroom: cannot read --motd-file {motd}: No such file or directory")
        motd.write_text("line one\nline two\n")
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService)
        self.assertEqual(service.factory.motd, ["line one", "line two"])

    def test_a_motd_that_a_login_cannot_carry_or_that_holds_control_characters_is_one_line(self) -> None:
        """A review: --motd-file /dev/zero never finished starting (3 GB in 8 s), a 7.7 MB one dropped every user
        at login (send queue exceeded), and control characters went out raw (an IRC line forged with \\r\\n)."""
        motd = Path(self.mktemp())
        options = self.parse("--certs", self.mktemp(), "--listen", "tcp:0", "--motd-file", str(motd))
        for content, why in [
            (None, "not a regular file (a device, a pipe or a socket)"),
            ("x" * (16 * 1024 + 1), "must be at most 16 KiB, what a login carries"),
            ("line\n" * 101, "must be at most 100 lines, what a login carries (not 101)"),
            ("welcome\nevil\x1b[2J\n", "must hold no control character, as the commands refuse in text (line 2 does)"),
            ("evil\rQUIT :x\x00\n", "must hold no control character, as the commands refuse in text (line 2 does)"),
        ]:
            if content is None:
                motd.symlink_to("/dev/zero")
            else:
                motd.unlink()
                motd.write_text(content)
            exit = self.assertRaises(SystemExit, tap.makeService, options, ServiceReactor())
            self.assertEqual(str(exit), f"chatroom: cannot read --motd-file {motd}: {why}")
        motd.write_text("\x02bold\x02 and\ttabs, as IRC carries them\r\n" * 100)
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService)
        self.assertEqual(len(service.factory.motd), 100)
        error = self.assertRaises(usage.UsageError, self.parse, "--motd", "hi\x1b[2J")
        self.assertEqual(
            str(error), "--motd must hold no control character, as the commands refuse in text (line 1 does)"
        )
        config = Path(self.mktemp())
        config.symlink_to("/dev/zero")
        error = self.assertRaises(usage.UsageError, self.parse, "--config", str(config))
        self.assertEqual(str(error), f"cannot read {config}: not a regular file (a device, a pipe or a socket)")

    def test_a_config_file_under_the_command_line(self) -> None:
        config = Path(self.mktemp())
        config.write_text('flood-rate = 2.5\nmax-clients = 50\nlisten = ["tcp:6000"]\nlimit-loopback = true\n')
        options = self.parse("--config", str(config), "--max-clients", "7")
        self.assertEqual((options["flood-rate"], options["max-clients"]), (2.5, 7))
        self.assertEqual((options["listen"], options["limit-loopback"]), (["tcp:6000"], True))
        self.assertEqual(options.pinned, {"max-clients"})
        self.assertEqual(self.parse(f"--config={config}", "-l", "tcp:1")["listen"], ["tcp:1"])
        for content, error in [
            ("colour = 'red'\n", f"{config}: there is no setting 'colour' (the names are twistd chatroom's options)"),
            ("max-clients = 'many'\n", f"{config}: max-clients must be a whole number, not 'many'"),
            ("max-clients = 0\n", f"{config}: max-clients must be at least 1"),
            ("limit-loopback = 1\n", f"{config}: limit-loopback must be true or false"),
            ("listen = 5050\n", f"{config}: listen must be a list of one or more strings"),
            ("listen = []\n", f"{config}: listen must be a list of one or more strings"),
            ('listen = ["ssl:0"]\n', f"{config} takes plain endpoints such as tcp:5050; chatroom adds TLS itself"),
            ("max-clients = 3.5\n", f"{config}: max-clients must be a whole number, not 3.5"),
            ('max-clients = "12"\n', f"{config}: max-clients must be a whole number, not '12'"),
            ("max-clients = inf\n", f"{config}: max-clients must be a whole number, not inf"),
            ("registration-timeout = nan\n", f"{config}: registration-timeout must be a number, not nan"),
            ("max-clients = \n", f"{config} is not TOML: Invalid value (at line 1, column 15)"),
        ]:
            config.write_text(content)
            self.assertEqual(str(self.assertRaises(usage.UsageError, self.parse, "--config", str(config))), error)

    def test_the_command_line_wins_by_being_given_not_by_its_value(self) -> None:
        """A review found a value equal to the file's or the default, given on the command line, left to reloads."""
        config = Path(self.mktemp())
        config.write_text("max-clients = 100\n")
        options = self.parse("--config", str(config), "--max-clients", "100", "--flood-rate", "5", "-l", "tcp:1")
        self.assertEqual(options.pinned, {"max-clients", "flood-rate", "listen"})
        options = self.parse("--con", str(config))  # an abbreviation getopt accepts is the same option
        self.assertEqual(options["max-clients"], 100)
        other = Path(self.mktemp())
        other.write_text("max-clients = 7\n")
        options = self.parse("--config", str(config), "--config", str(other))
        self.assertEqual((options["config"], options["max-clients"]), (str(other), 7), "the last one, as getopt")
        config.write_text('motd = "from the file"\n')
        options = self.parse("--config", str(config), "--motd-file", "motd.txt")
        self.assertEqual((options["motd"], options["motd-file"]), ("", "motd.txt"))

    def test_nobody_may_take_the_servers_own_name_the_source_of_its_notices(self) -> None:
        service = tap.makeService(self.parse("--certs", self.mktemp(), "--hostname", "vm"), ServiceReactor())
        assert isinstance(service, ChatService)
        error = self.assertRaises(ChatError, service.factory.chat.check_nick, "VM")
        self.assertEqual(error.key, "BAD_NICK:reserved")

    def test_sighup_applies_the_config_files_limits(self) -> None:
        config = Path(self.mktemp())
        config.write_text("max-clients = 50\nflood-burst = 10\n")
        options = self.parse("--certs", self.mktemp(), "--config", str(config), "--idle-timeout", "60")
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService) and service.reloader is not None
        logged = observe_log(self)
        config.write_text(
            'max-clients = 3\nflood-burst = 10\nroom-size = 4\nmotd = "hello"\nidle-timeout = 5.0\n'
            'listen = ["tcp:7000"]\n'
        )
        service.reloader.reload()
        factory = service.factory
        self.assertEqual((factory.limits.max_clients, factory.admission.limits.max_clients), (3, 3))
        self.assertEqual((factory.chat.limits.members_per_room, factory.motd), (4, ["hello"]))
        self.assertEqual(factory.limits.idle_timeout, 60, "the command line wins")
        messages = [formatEvent(event) for event in logged]
        self.assertIn("SIGHUP: kept idle-timeout: the command line sets it", messages)
        self.assertIn("SIGHUP: kept listen: changing it takes a restart", messages)
        self.assertNotIn("SIGHUP: kept certs: the command line sets it", messages, "the file does not mention it")
        # The caps and room limits count at once, for open connections too (running.md); the others do not.
        self.assertIn(
            "SIGHUP: max-clients is now 3, at once, for connections from now on; none open is cut off", messages
        )
        self.assertIn(
            "SIGHUP: room-size is now 4, at once, open connections included; nobody already in is put out", messages
        )
        self.assertIn("SIGHUP: motd is now 'hello', for those who choose a nickname from now on", messages)
        config.write_text("max-clients = 'none'\n")
        service.reloader.reload()
        self.assertEqual(factory.limits.max_clients, 3)
        self.assertIn(
            f"SIGHUP: kept every setting: {config}: max-clients must be a whole number, not 'none'",
            [formatEvent(event) for event in logged],
        )
        config.write_text('motd = "evil\\r\\nQUIT :x\\u001b[2J"\n')
        service.reloader.reload()
        self.assertEqual(factory.motd, ["hello"], "kept")
        self.assertIn(
            f"SIGHUP: kept every setting: {config}: motd: must hold no control character, as the commands refuse in"
            " text (line 2 does)",
            [formatEvent(event) for event in logged],
        )
        config.write_text("")  # a setting left out goes back to its default
        service.reloader.reload()
        self.assertEqual(factory.limits.max_clients, ConnectionLimits.max_clients)

    def test_registration_is_off_by_default_and_sighup_opens_it(self) -> None:
        config = Path(self.mktemp())
        config.write_text("")
        options = self.parse("--certs", self.mktemp(), "--accounts", self.mktemp(), "--config", str(config))
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService) and service.reloader is not None
        signup = service.factory.registrar.signup
        self.assertFalse(signup.open)
        config.write_text('registration = "open"\npassword-min = 12\n')
        logged = observe_log(self)
        service.reloader.reload()
        self.assertIn(
            "SIGHUP: password-min is now 12, at once, open connections included", [formatEvent(e) for e in logged]
        )
        self.assertEqual((signup.open, signup.before_entering, signup.shortest), (True, True, 12))
        config.write_text('registration = "sometimes"\n')
        logged = observe_log(self)
        service.reloader.reload()
        self.assertTrue(signup.open, "a wrong value changes nothing")
        self.assertIn(
            f"SIGHUP: kept every setting: {config}: registration: must be open, connected or off",
            [formatEvent(event) for event in logged],
        )
        with self.assertRaises(usage.UsageError) as refused:
            self.parse("--registration", "yes")
        self.assertEqual(str(refused.exception), "--registration must be open, connected or off")

    def test_sighup_mentions_only_the_settings_that_changed(self) -> None:
        """Every SIGHUP said `kept history-age: changing it takes a restart` though it was never set."""
        config = Path(self.mktemp())
        logged = observe_log(self)

        def warnings(since: int) -> list[str]:
            return [formatEvent(event) for event in logged[since:] if event["log_level"] == LogLevel.warn]

        for start in ["max-clients = 50\n", 'history-age = "1d"\n']:
            first = len(logged)
            config.write_text(start)
            service = tap.makeService(self.parse("--certs", self.mktemp(), "--config", str(config)), ServiceReactor())
            assert isinstance(service, ChatService) and service.reloader is not None
            for unchanged in [start, start.replace("1d", "24h")]:  # the same duration, written otherwise
                config.write_text(unchanged)
                service.reloader.reload()
            self.assertEqual(warnings(first), [], start)
            config.write_text('history-age = "2d"\nredis = "redis://localhost"\n')
            service.reloader.reload()
            restart = "SIGHUP: kept {}: changing it takes a restart"
            self.assertEqual(warnings(first), [restart.format("redis"), restart.format("history-age")])
            config.write_text('history-age = "soon"\n')
            service.reloader.reload()
            self.assertEqual(
                formatEvent(logged[-1]),
                f"SIGHUP: kept every setting: {config}: history-age: must be a duration from 1s to 3650d, such as"
                " 24h, or 0; not soon",
            )

    def test_sighup_says_nothing_of_front_ends_turned_off_or_given_on_the_command_line(self) -> None:
        """With no-irc = true in the file, every SIGHUP said `kept irc: changing it takes a restart`; so it did of
        the file's web = [...] under --no-web, and of IRC's default under --irc-plaintext."""
        logged = observe_log(self)
        for text, arguments in [
            ("no-irc = true\nno-web = true\n", []),
            ('web = ["tcp:7443"]\nirc = ["tcp:7697"]\n', ["--no-web", "--no-irc"]),
            ("", ["--irc-plaintext", "tcp:6667", "--web-plaintext", "tcp:8080"]),
            ('irc-plaintext = ["tcp:6667"]\nlisten = ["tcp:7000"]\n', []),
        ]:
            config = Path(self.mktemp())
            config.write_text(text)
            options = self.parse("--certs", self.mktemp(), "--config", str(config), *arguments)
            service = tap.makeService(options, ServiceReactor())
            assert isinstance(service, ChatService) and service.reloader is not None
            first = len(logged)
            service.reloader.reload()
            sighup = [formatEvent(event) for event in logged[first:] if "SIGHUP: kept" in formatEvent(event)]
            self.assertEqual(sighup, [], text)
        config.write_text('listen = ["tcp:7000"]\n')  # irc-plaintext left out: IRC's default would be served
        assert isinstance(service, ChatService) and service.reloader is not None
        service.reloader.reload()
        restart = "SIGHUP: kept {}: changing it takes a restart"
        warned = [formatEvent(event) for event in logged[first:] if event["log_level"] == LogLevel.warn]
        self.assertEqual(warned, [restart.format("irc"), restart.format("irc-plaintext")])

    def test_options_become_the_service(self) -> None:
        certs = self.mktemp()
        options = self.parse(
            "--certs", certs, "--listen", "tcp:0", "--flood-burst", "3", "--flood-rate", "0.5",
            "--send-queue", "4096", "--max-per-address", "2", "--limit-loopback", "--idle-timeout", "60",
            "--max-rooms", "4", "--room-size", "9", "--motd", "hi", "--history-memory", "1.5GB",
        )  # fmt: skip
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, ChatService)
        factory = service.factory
        self.assertEqual(
            factory.limits,
            ConnectionLimits(
                flood_burst=3, flood_rate=0.5, send_queue=4096, max_per_address=2, limit_loopback=True, idle_timeout=60
            ),
        )
        self.assertEqual((factory.chat.limits.rooms_per_member, factory.chat.limits.members_per_room), (4, 9))
        self.assertEqual(factory.motd, ["hi"])
        self.assertEqual(factory.chat.history_memory.limit, 1536 * 1024 * 1024)
        self.assertTrue((Path(certs) / "ca.pem").exists())

    def test_bad_endpoint_and_bad_certificate_exit_with_one_line(self) -> None:
        certs = Path(self.mktemp())
        error = self.assertRaises(
            SystemExit, tap.makeService, self.parse("--certs", str(certs), "--listen", "nope:1"), ServiceReactor()
        )
        self.assertEqual(str(error), "chatroom: bad --listen endpoint 'nope:1': Unknown endpoint type: 'nope'")
        (certs / "server.key").unlink()
        error = self.assertRaises(SystemExit, tap.makeService, self.parse("--certs", str(certs)), ServiceReactor())
        self.assertRegex(str(error), r"^chatroom: \S+server.key is missing: put it back, or remove \S+ too")

    def test_every_bad_endpoint_is_one_line_naming_the_option_and_the_value(self) -> None:
        """Twisted's endpoint parsers raise TypeError, IndexError or OSError too, not only ValueError: each is one
        line, never a traceback."""
        certs = self.mktemp()
        for option, value, fault in [
            (
                "--listen",
                "tcp:0:interface=::1",
                r"interface given twice; a colon inside a value must be escaped"
                r" with a backslash, as IPv6 addresses' are (interface=\:\:1)",
            ),
            ("--listen", "tcp:0:bogus=1", "no such parameter bogus="),
            ("--listen", "tcp", "no port given"),
            ("--irc", "tcp:0:1:2:3:4:5", "too many fields; a colon inside a value must be escaped"),
            ("--listen", "systemd:domain=INET:index=0", "systemd passed no socket at that index"),
            ("--web-plaintext", "systemd:domain=INET:index=0", "systemd passed no socket at that index"),
            ("--listen", "tcp:notaport", "'notaport' is not a number"),
            ("--metrics", "ssl:0:privateKey=/nonexistent/server.pem", "cannot read /nonexistent/server.pem: No such"),
        ]:
            options = self.parse("--certs", certs, option, value)
            error = self.assertRaises(SystemExit, tap.makeService, options, ServiceReactor())
            self.assertIsInstance(error.code, str)
            self.assertTrue(str(error).startswith(f"chatroom: bad {option} endpoint '{value}': {fault}"), str(error))
            self.assertNotIn("\n", str(error))

    def test_accounts_that_are_a_directory_or_another_file_stop_the_server_with_one_line(self) -> None:
        """Every login failed with SERVER_ERROR, even under --auth required; another file's lines became accounts."""
        certs = self.mktemp()
        directory = Path(self.mktemp())
        directory.mkdir()
        for auth in ("optional", "required"):
            options = self.parse("--certs", certs, "--accounts", str(directory), "--auth", auth)
            error = self.assertRaises(SystemExit, tap.makeService, options, ServiceReactor())
            self.assertEqual(str(error), f"chatroom: cannot read {directory}: Is a directory")
        foreign = Path(self.mktemp())
        foreign.write_text("hello world\n")
        error = self.assertRaises(
            SystemExit, tap.makeService, self.parse("--certs", certs, "--accounts", str(foreign)), ServiceReactor()
        )
        self.assertEqual(
            str(error), f"chatroom: {foreign} is not an accounts file: its line 1 is not NAME scrypt$..., as"
            " chatroom-accounts writes them",
        )  # fmt: skip
        tap.makeService(self.parse("--certs", certs, "--accounts", str(foreign), "--auth", "off"), ServiceReactor())

    def test_a_hostname_the_certificate_in_use_does_not_name_is_announced(self) -> None:
        """--hostname is written only into a generated certificate: once certs/ exists it was silently ignored."""
        certs = Path(self.mktemp())

        def warnings(*arguments: str) -> list[str]:
            logged = observe_log(self)
            tap.makeService(self.parse("--certs", str(certs), *arguments), ServiceReactor())
            return [formatEvent(event) for event in logged if event["log_level"] == LogLevel.warn]

        self.assertEqual(warnings("--hostname", "first.example"), [], "generated for it")
        self.assertEqual(warnings("--hostname", "First.Example"), [], "names match without case")
        self.assertEqual(warnings("--hostname", "127.0.0.1"), [], "the loopback addresses are named too")
        self.assertEqual(warnings(), [], "not given: this machine's name may well be no name clients use")
        self.assertEqual(
            warnings("--hostname", "second.example"),
            [
                f"the server certificate {certs / 'server.crt'} does not name --hostname second.example (it names"
                " localhost, 127.0.0.1, ::1, first.example), so clients connecting by that name refuse it: --hostname"
                " is written only into a certificate generated at the first start; renew it for that name with"
                f" chatroom-certs --certs {certs} renew second.example localhost 127.0.0.1 ::1 first.example, then"
                " send SIGHUP"
            ],
        )
        config = Path(self.mktemp())
        config.write_text('hostname = "192.0.2.1"\n')
        (warning,) = warnings("--config", str(config))
        self.assertIn("does not name --hostname 192.0.2.1", warning)
        certs = Path(self.mktemp())
        self_signed_rsa(certs, days=100)  # a certificate of the administrator's own, naming no host
        (warning,) = warnings("--hostname", "first.example")
        self.assertIn("(it names no host)", warning)
        self.assertIn("get one for that name where this one came from (certbot, your CA), then send SIGHUP", warning)

    def test_a_certificate_about_to_expire_is_announced(self) -> None:
        certs = Path(self.mktemp())
        self_signed_rsa(certs, days=10)
        logged = observe_log(self)
        tap.makeService(self.parse("--certs", str(certs)), ServiceReactor())
        warnings = [event for event in logged if event["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertIn("expires in 9 days", formatEvent(warnings[0]))

    def test_a_key_other_users_may_read_is_announced_at_start(self) -> None:
        certs = Path(self.mktemp())
        self_signed_rsa(certs, days=100)
        (certs / "server.key").chmod(0o644)
        logged = observe_log(self)
        tap.makeService(self.parse("--certs", str(certs)), ServiceReactor())
        warnings = [formatEvent(event) for event in logged if event["log_level"] == LogLevel.warn]
        key = certs / "server.key"
        self.assertEqual(warnings, [f"{key} is readable by every user of this machine (mode 0644): chmod 600 {key}"])
