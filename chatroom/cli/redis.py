"""A command line's work on Redis (`--redis URL`): under Twisted, its answer printed, or one line of error."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from twisted.internet import task
from twisted.internet.defer import ensureDeferred

from chatroom.bus.redis import RedisAddress, RedisUnreachable
from chatroom.cli.refusals import word
from chatroom.core.errors import ChatError
from chatroom.core.state import StoreError


def command_line(program: str, url: str, work: Callable[[Any], Coroutine[Any, Any, str]]) -> NoReturn:
    """Run a command line's `work` on a connection to Redis, under Twisted; print its line, or one line of error."""
    try:
        address = RedisAddress.parse(url)
        address.check()
    except (ValueError, RedisUnreachable) as error:
        raise SystemExit(f"{program}: {error}") from None

    async def main(_: object) -> None:
        connection = await address.connect(reconnect=False)  # a lost Redis ends it
        try:
            print(await work(connection))
        except ChatError as error:
            raise SystemExit(f"{program}: {word(error)}") from None
        except StoreError as error:
            raise SystemExit(f"{program}: {error}") from None
        except Exception as error:  # Redis refused or went away: one line, never a traceback
            raise SystemExit(f"{program}: Redis at {address.shown()}: {error}") from None
        finally:
            await connection.disconnect()

    task.react(lambda reactor: ensureDeferred(main(reactor)))
