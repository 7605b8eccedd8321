"""Registered nicknames: the store, the command line, logins over TLS, and the client's password prompt."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from unittest import SkipTest, mock

from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.errors import ChatError
from chatroom.core.state import StoreError
from chatroom.server.auth import AccountsChecker, Backoff
from chatroom.stores.accounts import SCRYPT_N, AccountStore, check_password, decoy_hash
from tests.helpers import ServerTestCase, observe_log

ACCOUNTS = [sys.executable, "-m", "chatroom.cli.accounts"]
CLIENT = [sys.executable, "-m", "chatroom.client"]
DECOY = decoy_hash()


class StoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = Path(self.mktemp()).resolve()
        self.store = AccountStore(self.path)

    def test_passwords_are_checked_never_stored(self) -> None:
        self.store.add("Alice", "correct horse")
        self.assertEqual(self.store.verify("alice", "correct horse", DECOY), "Alice", "names match without case")
        self.assertIsNone(self.store.verify("alice", "wrong horse", DECOY))
        self.assertIsNone(self.store.verify("nobody", "correct horse", DECOY))
        self.assertNotIn("correct horse", self.path.read_text())
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)

    def test_bad_names_and_short_passwords(self) -> None:
        self.assertEqual(self.assertRaises(ChatError, self.store.add, "9lives", "long enough").code, "BAD_NICK")
        self.assertEqual(self.assertRaises(ChatError, self.store.add, "bob", "short").code, "WEAK_PASSWORD")

    def test_changes_on_disk_are_picked_up(self) -> None:
        self.store.add("alice", "first password")
        self.assertEqual(self.store.names(), ["alice"])
        other = AccountStore(self.path)  # another process, as `chatroom-accounts` is
        other.add("bob", "second password")
        other.remove("alice")
        self.assertEqual(self.store.names(), ["bob"])
        self.assertEqual(self.store.verify("bob", "second password", DECOY), "bob")

    def test_a_crash_before_the_rename_leaves_the_old_file(self) -> None:
        self.store.add("alice", "first password")
        before = self.path.read_bytes()
        with mock.patch("os.replace", side_effect=OSError("power cut")):
            self.assertRaises(OSError, self.store.add, "bob", "second password")
        self.assertEqual(self.path.read_bytes(), before)
        self.assertEqual(sorted(self.path.parent.glob("*.tmp-*")), [], "no temporary file is left behind")
        self.assertEqual(AccountStore(self.path).names(), ["alice"])

    def test_a_change_made_as_root_leaves_the_file_to_the_servers_user(self) -> None:
        """`chatroom-accounts passwd` run as root made the file root's, mode 0600: the server, running as its own
        user, could no longer read it, and every login failed."""
        if os.geteuid() != 0:
            raise SkipTest("only root may give a file to another user")
        self.store.add("alice", "first password")
        lock = self.path.parent / f".{self.path.name}.lock"
        for path in [self.path, lock, self.path.parent]:
            os.chown(path, 65534, 65534)  # the server's user: nobody
        self.store.set_password("alice", "second password")
        self.store.add("bob", "third password")
        self.assertEqual([(path.stat().st_uid, path.stat().st_gid) for path in [self.path, lock]], [(65534, 65534)] * 2)
        self.assertEqual(self.path.stat().st_mode & 0o777, 0o600)
        fresh = self.path.parent / "new.db"
        AccountStore(fresh).add("carol", "fourth password")
        self.assertEqual(fresh.stat().st_uid, 65534, "a new file is its directory owner's")

    def test_a_link_planted_as_the_lock_gives_nothing_away(self) -> None:
        """The server's user, owner of its directory, could link its lock to /etc/shadow for root's change to give
        the file to it (the lock was opened through links, then given the accounts file's owner)."""
        if os.geteuid() != 0:
            raise SkipTest("only root may give a file to another user")
        self.store.add("alice", "first password")
        os.chown(self.path.parent, 65534, 65534)
        os.chown(self.path, 65534, 65534)
        secret = Path(self.mktemp())
        secret.write_text("root's")
        lock = self.path.parent / f".{self.path.name}.lock"
        lock.unlink()
        lock.symlink_to(secret)
        self.assertRaises(OSError, self.store.add, "bob", "second password")
        self.assertEqual((secret.stat().st_uid, secret.read_text()), (0, "root's"))
        lock.unlink()
        os.mkfifo(lock)  # nor waited on, as a FIFO would hold the writer
        self.assertRaises(OSError, self.store.add, "bob", "second password")
        self.assertEqual(AccountStore(self.path).names(), ["alice"])

    def test_another_users_file_is_refused_not_taken(self) -> None:
        self.store.add("alice", "first password")
        with mock.patch("os.geteuid", return_value=os.getuid() + 1000):
            error = self.assertRaises(PermissionError, self.store.add, "bob", "second password")
        self.assertIn(f"belongs to user {os.getuid()}: change it as that user (or as root)", str(error))
        self.assertEqual(AccountStore(self.path).names(), ["alice"])

    def test_a_leftover_temporary_file_is_removed_by_the_next_change(self) -> None:
        """A writer killed mid-write (kill -9) leaves its temporary file, hashes inside: the next change removes it."""
        self.store.add("alice", "first password")
        leftovers = [self.path.parent / f".{self.path.name}.{tail}" for tail in ("tmp-killed", "k2j4h5g1")]  # now, 0.1
        for leftover in leftovers:
            leftover.write_text("alice scrypt$...\n")
        unrelated = self.path.parent / f".{self.path.name}-other.tmp-live"  # another file's, never touched
        unrelated.write_text("")
        self.store.add("bob", "second password")
        self.assertEqual([leftover.exists() for leftover in leftovers], [False, False])
        self.assertTrue(unrelated.exists())
        self.assertEqual(AccountStore(self.path).names(), ["alice", "bob"])

    def test_a_file_damaged_or_gone_while_the_server_runs_leaves_the_accounts_read_before(self) -> None:
        """A typo on tom's line dropped his account silently: his name free for any guest, his rights gone."""
        logged = observe_log(self)
        self.store.add("tom", "his password")
        self.store.add("ann", "her password")
        self.store.set_admin("tom", True)
        text = self.path.read_text()
        self.path.write_text(text.replace("tom scrypt", "tom scrypy"))
        self.assertEqual(self.store.names(), ["ann", "tom (admin)"])
        self.assertEqual(self.store.verify("tom", "his password", DECOY), "tom")
        self.path.unlink()
        self.assertTrue(self.store.is_admin("tom"))
        errors = [formatEvent(event) for event in logged if event["log_level"].name == "error"]
        self.assertEqual(len(errors), 2, "once each, not at every lookup")
        self.assertIn(
            "its line 1 is not NAME scrypt$..., as chatroom-accounts writes them: the accounts read before"
            " stay in use until it is corrected",
            errors[0],
        )
        self.assertIn("is gone: the accounts read before stay in use until it is back", errors[1])
        self.path.write_text(text.replace("ann scrypt", "anne scrypt"))
        self.assertEqual(self.store.names(), ["anne", "tom (admin)"], "a sound file is read again")

    def test_a_line_that_is_no_account_is_refused_never_read_as_one(self) -> None:
        """Another file given as the accounts file (a JSON file, notes) holds no accounts: it is not changed."""
        self.store.add("alice", "first password")
        with self.path.open("a") as file:
            file.write("\n")  # a blank line harms nobody
        self.store.check()
        foreign = Path(self.mktemp())
        foreign.write_text('{\n "rooms": {}\n}\nhello world\n')
        store = AccountStore(foreign)
        self.assertEqual(store.names(), [], "no account named '\"rooms\":' nor hello")
        error = self.assertRaises(StoreError, store.check)
        self.assertEqual(
            str(error), f"{foreign} is not an accounts file: its line 1 is not NAME scrypt$..., as chatroom-accounts"
            " writes them",
        )  # fmt: skip
        self.assertRaises(StoreError, store.add, "bob", "second password")
        self.assertEqual(foreign.read_text(), '{\n "rooms": {}\n}\nhello world\n', "left as it was")
        directory = Path(self.mktemp())
        directory.mkdir()
        error = self.assertRaises(StoreError, AccountStore(directory).check)
        self.assertEqual(str(error), f"cannot read {directory}: Is a directory")

    def test_a_damaged_hash_lets_no_password_in_and_stops_the_server_at_start(self) -> None:
        """An empty or undecodable key made scrypt verify every password: a hand-edited line let anyone in."""
        for damaged in ("scrypt$32768$8$1$c2FsdA==$", "scrypt$32768$8$1$!!!$!!!", "scrypt$32768$8$1$$" + "A" * 44):
            self.assertFalse(check_password("totally-wrong", damaged), damaged)
            self.path.write_text(f"admin {damaged} admin\n")
            error = self.assertRaises(StoreError, AccountStore(self.path).check)
            self.assertEqual(
                str(error),
                f"{self.path}: the password hash on line 1 (admin) is damaged: set the password again with"
                " chatroom-accounts passwd admin",
            )
        AccountStore(self.path).set_password("admin", "a new password")  # the way out the line names
        AccountStore(self.path).check()
        self.assertTrue(check_password("a new password", AccountStore(self.path).get("admin").hash))

    def test_a_device_is_refused_unread(self) -> None:
        """Read whole, at start and at each login once it changed: a symlink to /dev/zero would fill the memory."""
        device = Path(self.mktemp())
        device.symlink_to("/dev/zero")
        error = self.assertRaises(StoreError, AccountStore(device).check)
        self.assertEqual(str(error), f"cannot read {device}: not a regular file (a device, a pipe or a socket)")

    def test_the_decoy_is_made_at_start(self) -> None:
        """0.1 made it at the first unknown name, whose answer was then twice as slow: a timing signal."""
        self.store.add("alice", "first password")
        checker = AccountsChecker(self.store)
        self.assertRegex(checker.decoy, rf"^scrypt\${SCRYPT_N}\$", "a real hash, as costly to check as an account's")
        with mock.patch("chatroom.stores.accounts.hash_password", side_effect=AssertionError("hashed at login")):
            self.assertIsNone(self.store.verify("nobody", "a guess", checker.decoy))


class BackoffTests(SynchronousTestCase):
    def test_failures_make_the_next_attempt_wait_longer(self) -> None:
        clock = Clock()
        backoff = Backoff(clock)
        self.assertEqual(backoff.wait("account:alice", "address:192.0.2.1"), 0)
        waits = []
        for _ in range(8):
            backoff.failed("account:alice", "address:192.0.2.1")
            waits.append(backoff.wait("account:alice"))
            clock.advance(waits[-1])
        self.assertEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60])
        self.assertEqual(backoff.wait("account:bob", "address:192.0.2.1"), 0, "waited out")
        backoff.failed("account:alice", "address:192.0.2.1")
        self.assertEqual(backoff.wait("account:bob", "address:192.0.2.1"), 60, "the address is slowed too")
        backoff.succeeded("account:alice")
        self.assertEqual(backoff.wait("account:alice"), 0)


class CommandLineTests(ServerTestCase):
    async def accounts(self, *arguments: str, stdin: str = "") -> tuple[int | None, str]:
        process = self.spawn([*ACCOUNTS, "--file", str(self.file), *arguments])
        process.transport.write(stdin.encode())
        process.transport.closeStdin()
        return await process.exit_code(), process.output

    async def test_concurrent_adds_all_land(self) -> None:
        """0.1: ten processes adding five accounts each lost 45 of the 50, and every one said it succeeded."""
        self.file = Path(self.mktemp()).resolve()
        adds = "; ".join(f"main(['--file', {str(self.file)!r}, 'add', f'user{{n}}x{index}'])" for index in range(5))
        processes = [
            self.spawn([sys.executable, "-c", f"from chatroom.cli.accounts import main; n = {n}; {adds}"])
            for n in range(10)
        ]
        for process in processes:
            process.transport.write(b"long enough\n" * 10)
            process.transport.closeStdin()
        codes = [await process.exit_code() for process in processes]
        self.assertEqual(codes, [0] * 10, [process.output for process in processes])
        self.assertEqual(len(AccountStore(self.file).names()), 50)
        self.assertEqual(sorted(self.file.parent.glob("*.tmp-*")), [])

    async def test_add_list_passwd_remove(self) -> None:
        self.file = Path(self.mktemp()).resolve()
        self.assertEqual(await self.accounts("add", "alice", stdin="sesame open\nsesame open\n"), (0, "added alice\n"))
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o600)
        code, output = await self.accounts("add", "alice", stdin="again please\nagain please\n")
        refusal = "chatroom-accounts: alice is registered already: use passwd to change it\n"
        self.assertEqual((code, output), (1, refusal))
        code, output = await self.accounts("passwd", "alice", stdin="new secret\nnew typo\n")
        self.assertEqual((code, output), (1, "chatroom-accounts: the two passwords differ; nothing was changed\n"))
        self.assertEqual((await self.accounts("passwd", "alice", stdin="new secret\nnew secret\n"))[0], 0)
        self.assertEqual(AccountStore(self.file).verify("alice", "new secret", DECOY), "alice")
        self.assertEqual(await self.accounts("list"), (0, "alice\n"))
        self.assertEqual(await self.accounts("grant", "alice", "admin"), (0, "alice is now a server administrator\n"))
        self.assertEqual(await self.accounts("list"), (0, "alice (admin)\n"))
        self.assertTrue(AccountStore(self.file).is_admin("ALICE"))
        self.assertEqual(AccountStore(self.file).verify("alice", "new secret", DECOY), "alice", "the hash is kept")
        code, output = await self.accounts("grant", "alice", "owner")
        self.assertEqual(code, 2)
        self.assertIn("invalid choice: 'owner'", output)
        self.assertEqual(
            await self.accounts("grant", "nobody", "admin"),
            (1, "chatroom-accounts: there is no account nobody\n"),
        )
        revoked = await self.accounts("revoke", "alice", "admin")
        self.assertEqual(revoked, (0, "alice is no longer a server administrator\n"))
        self.assertFalse(AccountStore(self.file).is_admin("alice"))
        again = await self.accounts("revoke", "alice", "admin")  # said "is no longer" of one who never was
        self.assertEqual(again, (0, "alice was not a server administrator: nothing changed\n"))
        self.assertEqual(await self.accounts("remove", "alice"), (0, "removed alice\n"))
        self.assertEqual(await self.accounts("remove", "alice"), (1, "chatroom-accounts: there is no account alice\n"))

    async def test_list_of_a_damaged_file_says_so(self) -> None:
        """It left out the line damaged by hand, and said nothing."""
        self.file = Path(self.mktemp()).resolve()
        AccountStore(self.file).add("tom", "his password")
        self.file.write_text(self.file.read_text().replace("tom scrypt", "tom scrypy"))
        code, output = await self.accounts("list")
        self.assertEqual(code, 1)
        self.assertIn("is not an accounts file: its line 1 is not NAME scrypt$...", output)

    async def test_accounts_created_while_the_server_runs_are_enforced(self) -> None:
        """0.1 logged `accounts: off` without the file, and a guest took an account's nickname once it was made."""
        self.file = Path(self.mktemp()).resolve()
        logged = observe_log(self)
        self.start_server("--accounts", str(self.file))
        self.assertIn(
            f"accounts: optional, from {self.file}, which holds none yet: registered nicknames need their password"
            f" from the first one added (chatroom-accounts --file {self.file} add NAME)",
            [formatEvent(event) for event in logged],
        )
        self.assertEqual(
            await self.accounts("add", "alice", stdin="correct horse\ncorrect horse\n"), (0, "added alice\n")
        )
        guest = await self.connect()
        guest.send("/nick alice")
        await guest.expect("AUTH alice :alice needs a password: log in with /pass PASSWORD, or choose another nickname")
        guest.send("/pass correct horse")
        await guest.until("WELCOME alice ")


class LoginTests(ServerTestCase):
    def setUp(self) -> None:
        self.file = Path(self.mktemp()).resolve()
        AccountStore(self.file).add("alice", "correct horse")

    async def test_registered_nickname_needs_its_password(self) -> None:
        self.start_server("--accounts", str(self.file))  # optional: the default when the file exists
        alice = await self.connect()
        alice.send("/nick alice")
        await alice.expect("AUTH alice :alice needs a password: log in with /pass PASSWORD, or choose another nickname")
        alice.send("/join 5")
        await alice.expect("ERR NO_NICK :choose a nickname first: /nick NAME")
        alice.send("/pass correct horse", "/join 5")  # lines after /pass wait for the verdict
        line, _ = await alice.until("WELCOME ")
        self.assertEqual(line.split()[1], "alice")
        await alice.until("CURRENT #5")
        guest = await self.connect("guest", "5")
        guest.send("hello, no password needed")
        await alice.until("MSG #5 guest :hello, no password needed")

    async def test_a_password_with_spaces_works_as_the_accounts_cli_took_it(self) -> None:
        AccountStore(self.file).add("bob", " spaced  out ")
        self.start_server("--accounts", str(self.file))
        bob = await self.connect()
        bob.send("/nick bob", "/pass  spaced  out ")
        await bob.until("WELCOME bob ")

    async def test_another_nick_cancels_a_pending_login(self) -> None:
        self.start_server("--accounts", str(self.file))
        client = await self.connect()
        client.send("/nick alice", "/nick guest", "/pass correct horse")
        await client.until("WELCOME guest ")
        await client.expect("ERR NO_LOGIN :no login to complete: /nick NAME first")

    async def test_wrong_password_refused_then_slowed(self) -> None:
        self.start_server("--accounts", str(self.file))
        intruder = await self.connect()
        intruder.send("/nick Alice", "/pass guess one")
        await intruder.until("ERR BAD_LOGIN :wrong nickname or password")
        intruder.send("/nick alice", "/pass guess two")  # the first failure from an address costs no wait
        await intruder.until("ERR BAD_LOGIN :wrong nickname or password")
        intruder.send("/nick alice", "/pass correct horse")  # even the right one waits its turn
        line, _ = await intruder.until("ERR ")
        self.assertRegex(line, r"^ERR SLOW_DOWN :too many failed logins: try again in \d+ s$")

    async def test_required_mode_has_no_guests_and_one_answer(self) -> None:
        self.start_server("--accounts", str(self.file), "--auth", "required")
        guest = await self.connect()
        guest.send("/nick guest")
        await guest.expect("AUTH guest :guest needs a password: log in with /pass PASSWORD, or choose another nickname")
        guest.send("/pass anything at all")
        await guest.expect("ERR BAD_LOGIN :wrong nickname or password")  # as for a registered name

    async def test_accounts_added_while_running_can_log_in(self) -> None:
        self.start_server("--accounts", str(self.file))
        added = self.spawn([*ACCOUNTS, "--file", str(self.file), "add", "bob"])
        added.transport.write(b"bob's secret\nbob's secret\n")
        added.transport.closeStdin()
        self.assertEqual(await added.exit_code(), 0)
        bob = await self.connect()
        bob.send("/nick bob", "/pass bob's secret")
        await bob.until("WELCOME bob ")

    async def test_client_password_prompt_and_file(self) -> None:
        self.start_server("--accounts", str(self.file))
        ca = str(self.certs / "ca.pem")
        prompted = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", ca, "--nick", "alice", "--room", "5"],
            terminal=True,
            NO_COLOR="1",
        )
        await prompted.until("Password: ")
        prompted.type("correct")
        await prompted.until(r"Password: \*{7}")  # stars, never the characters
        prompted.type(" horse\r")
        await prompted.until(r"\[#5\] -- here: @alice")
        self.assertNotIn("correct", prompted.output, "the password is never shown")
        prompted.type("\x04")
        self.assertEqual(await prompted.exit_code(), 0)

        secret = Path(self.mktemp())
        secret.write_text("correct horse\n")
        from_file = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", ca, "--nick", "alice", "--room", "6",
             "--password-file", str(secret)]
        )  # fmt: skip
        await from_file.until(r"\[#6\] -- here: @alice")
        from_file.transport.closeStdin()
        self.assertEqual(await from_file.exit_code(), 0)
