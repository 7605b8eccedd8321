"""Keeping order over real TLS, with the service `twistd chatroom` runs: what a class or a club lives through."""

from __future__ import annotations

from pathlib import Path

from chatroom.stores.accounts import AccountStore
from tests.helpers import LineClient, ServerTestCase


class KeepingOrderTests(ServerTestCase):
    def setUp(self) -> None:
        self.start_server("--rooms", str(Path(self.mktemp()) / "rooms.json"))

    async def test_a_banned_guest_cannot_come_back_even_after_reconnecting(self) -> None:
        teacher = await self.connect("teacher", "5")
        troll = await self.connect("troll", "5")
        await teacher.until("JOIN #5 troll")
        teacher.send("/kick troll calm down")
        for client in (teacher, troll):
            await client.until("KICK #5 teacher troll :calm down")
        troll.send("/join 5")
        await teacher.until("JOIN #5 troll")
        teacher.send("/ban troll 1d spamming")
        await troll.until("KICK #5 teacher troll :banned: spamming")
        troll.send("/join 5")
        line, _ = await troll.until("ERR ")
        self.assertTrue(line.startswith("ERR BANNED :you are banned from #5: spamming (until "), line)
        troll.transport.loseConnection()
        await troll.lost
        again = await self.connect("troll_again")
        again.send("/join 5")
        line, _ = await again.until("ERR ")
        self.assertTrue(line.startswith("ERR BANNED :you are banned from #5"), line)
        teacher.send("/who")
        await teacher.until("NAMES #5 @teacher")

    async def test_a_moderated_room(self) -> None:
        teacher = await self.connect("teacher", "5")
        student = await self.connect("student", "5")
        teacher.send("/room set moderated on")
        await student.until("SET #5 teacher moderated :on")
        student.send("may I ask?")
        await student.expect("ERR MODERATED :#5 is moderated: only voiced members and operators speak")
        teacher.send("/voice student")
        await student.until("VOICE #5 teacher student")
        student.send("may I ask?")
        await teacher.until("MSG #5 student :may I ask?")

    async def test_an_invite_only_room_and_a_keyed_room(self) -> None:
        organiser = await self.connect("organiser", "club")
        organiser.send("/room set invite on", "/join chess", "/room set key knight")
        await organiser.until("SET #chess organiser key :knight")
        member = await self.connect("member")
        member.send("/join club")
        await member.expect("ERR INVITE_ONLY :#club is invite-only: an operator must /invite you first")
        organiser.send("/invite #club member")
        await member.expect("INVITE #club organiser member")
        member.send("/join club")
        await member.expect("JOIN #club member", "ROOM #club * invite topiclock", "NAMES #club @organiser member")
        member.send("/join chess pawn")
        await member.until("ERR BAD_KEY :you cannot join #chess: that is not its key")
        member.send("/join chess knight")
        await member.until("JOIN #chess member")


class AdministratorOverTLSTests(ServerTestCase):
    def setUp(self) -> None:
        accounts = Path(self.mktemp()).resolve()
        store = AccountStore(accounts)
        store.add("ada", "an admin's password")
        store.set_admin("ada", True)
        self.start_server("--accounts", str(accounts), "--rooms", str(Path(self.mktemp()) / "rooms.json"))

    async def test_a_lockdown_during_a_raid(self) -> None:
        regular = await self.connect("regular", "5")
        ada = await self.connect()
        ada.send("/nick ada")
        await ada.until("AUTH ada")
        ada.send("/pass an admin's password")
        await ada.until("WELCOME ada")
        ada.send("/server lockdown connect")
        for client in (ada, regular):
            await client.expect("LOCKDOWN ada connect")
        raider: LineClient = await self.connect()
        raider.send("/nick raider")
        await raider.expect("ERR LOCKDOWN :the server is locked down: only registered accounts may enter for now")
        regular.send("still here?")
        await regular.expect("ERR LOCKDOWN :the server is locked down: only registered accounts may talk for now")
        ada.send("/server kill regular raid", "/server lockdown off")
        await regular.until("BYE :disconnected by ada: raid")
        raider.send("/nick raider")
        await raider.until("WELCOME raider")
