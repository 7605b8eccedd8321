"""How the command lines word refusals: the core's plain English, and their own, naming their subcommands."""

from chatroom.core.wording import PLAIN, Wordings

WORDINGS = Wordings(
    {
        **PLAIN,
        "EXISTS": "{name} is registered already: use passwd to change it",
        "NO_ACCOUNT:add": "there is no account {name}: use add",
        "WEAK_PASSWORD": "a password needs at least {most} characters",
        "MISMATCH": "the two passwords differ; nothing was changed",
        "NO_FILE": "{path}: {error}",
        "NO_FILE:missing": "{path} does not exist: nothing to import",
        "KEPT": "{done}; kept {kept} as Redis holds them (--replace overwrites them)",
    }
)

word = WORDINGS.word
