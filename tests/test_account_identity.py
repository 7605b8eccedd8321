"""An account removed and registered again under the same name, by someone else, is a new account: it inherits
nothing the removed one had (rooms it owned or was named in, private conversations, read markers, stays), and a
person still logged in to the removed one has none of the new one's rights (chatroom.stores.accounts' identities).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatroom.stores.accounts import Account, Secret, adding

UNUSED = Secret("scrypt$unused", None)  # never checked: the tests' checker answers for it


class AccountRecordTests(SynchronousTestCase):
    def test_an_account_added_has_an_identity_no_other_has(self) -> None:
        first, second = (adding("alice", UNUSED)(None) for _ in range(2))
        self.assertNotEqual(first.identity, second.identity)
        self.assertEqual(Account.parse(first.record()), first)

    def test_an_account_written_before_identities_keeps_what_it_had(self) -> None:
        account = Account.parse("alice scrypt$unused admin")
        assert account is not None
        self.assertEqual(account.identity, "")
        self.assertEqual(account.record(), "alice scrypt$unused admin")
