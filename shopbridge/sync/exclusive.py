"""One run at a time per shop and stream, whoever starts it.

Every run, manual or scheduled, from the CLI, a scheduler or a worker, holds the store lease of
its (shop, stream) while it runs, renewed in the background. Only `sync ... --now` used to take
it, so two plain `sync orders` of one shop both ran in full (twice the API calls). The lease
also proves that a run of that stream still marked 'running' was left by a process that died:
it is closed first, with the counts of what it really committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta

from shopbridge.config import Settings
from shopbridge.errors import ShopbridgeError
from shopbridge.store import leases
from shopbridge.store import runs as history
from shopbridge.store.db import Database

log = logging.getLogger("shopbridge.sync")

DEFAULT_TTL = timedelta(seconds=30)
# The leases the current task holds through `run_lease` (a job holding its lease calls the
# service, which must not try to take it a second time).
_held: ContextVar[frozenset[str]] = ContextVar("shopbridge_run_leases", default=frozenset())


class JobBusyError(ShopbridgeError):
    """Another process runs this shop's stream right now."""


class LeaseLostError(ShopbridgeError):
    """The run's lease went to another process while it ran: the run was stopped."""


def holder_id() -> str:
    """Who holds a lease: host, process id and a nonce (one per runtime or service)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_lease_ttl(settings: Settings) -> timedelta:
    """Three heartbeats: a dead holder blocks the stream for at most that long."""
    return timedelta(seconds=max(3 * settings.worker_heartbeat_seconds, 3.0))


def describe_holder(holder: str | None) -> str:
    if not holder:
        return "another process"
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return f"process {pid} on {host}" if pid else holder


@asynccontextmanager
async def run_lease(
    database: Database, shop_id: int, shop: str, stream: str, holder: str,
    ttl: timedelta = DEFAULT_TTL,
) -> AsyncIterator[None]:
    """Hold the (shop, stream) lease for the block, or raise JobBusyError naming its holder.

    Taking it closes the runs of that stream left 'running' by a dead process; leaving the
    block by an exception (a cancelled task included) closes this process's run the same way,
    while the lease still proves it is ours.
    """
    name = leases.job_lease_name(shop_id, stream)
    if name in _held.get():
        yield
        return
    if not await asyncio.to_thread(_acquire, database, name, holder, ttl):
        other = await asyncio.to_thread(leases.holder_of, database, name)
        raise JobBusyError(
            f"{stream} of shop {shop!r} is already running in {describe_holder(other)}: wait "
            f"for it to finish (`shopbridge runs list --shop {shop}`)"
        )
    token = _held.set(_held.get() | {name})
    lost = asyncio.Event()
    keeper = asyncio.create_task(_keep(database, name, holder, ttl, lost, asyncio.current_task()))
    try:
        closed = await asyncio.to_thread(history.close_interrupted, database, shop_id, stream)
        if closed:
            log.info("closed %d interrupted %s run(s) of %s", closed, stream, shop)
        try:
            yield
        except asyncio.CancelledError:
            if lost.is_set():  # stopped by the keeper: the new holder closed our run already
                raise LeaseLostError(
                    f"{stream} of shop {shop!r} stopped: another process took its lease "
                    "while it ran (the database was unreachable for longer than the lease)"
                ) from None
            await asyncio.shield(
                asyncio.to_thread(history.close_interrupted, database, shop_id, stream))
            raise
        except BaseException:
            # Stopped mid-run: the page in flight commits or not as a whole; close the run
            # with what it committed.
            await asyncio.shield(
                asyncio.to_thread(history.close_interrupted, database, shop_id, stream))
            raise
    finally:
        keeper.cancel()
        _held.reset(token)
        await asyncio.shield(asyncio.to_thread(leases.release, database, name, holder))


def _acquire(database: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Take the lease; from a holder that is dead on this machine too (SQLite only)."""
    if leases.acquire(database, name, holder, ttl):
        return True
    other = leases.holder_of(database, name)
    if other is not None and database.dialect == "sqlite" and _dead_here(other):
        log.info("lease %s: its holder (%s) is dead, taking it over", name,
                 describe_holder(other))
        return leases.take_over(database, name, other, holder, ttl)
    return False


def _dead_here(holder: str) -> bool:
    """True for a holder on this host whose process no longer exists. A sync killed with
    SIGKILL would otherwise block the next `sync` of its shop until its lease expires. Only on
    SQLite, a single machine's database: containers sharing a host name but not a process
    table could not tell each other's processes from dead ones."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def _keep(
    database: Database, name: str, holder: str, ttl: timedelta, lost: asyncio.Event,
    run: asyncio.Task[object] | None,
) -> None:
    """Renew the lease every third of its TTL. A database error is logged and retried at the
    next beat (the lease is still ours until it expires); a renewal refused because another
    process holds it now stops the run, rather than running on beside the new holder."""
    while True:
        await asyncio.sleep(ttl.total_seconds() / 3)
        try:
            held = await asyncio.to_thread(leases.acquire, database, name, holder, ttl)
        except Exception as exc:  # a busy or unreachable database: try again next time
            log.warning("renewing lease %s failed (%s): trying again", name, type(exc).__name__)
            continue
        if not held:
            log.warning("lease %s was taken by another process: stopping this run", name)
            lost.set()
            if run is not None:
                run.cancel()
            return
