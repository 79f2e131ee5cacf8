"""A lease kept alive by a background thread: how a worker proves it is still working on a row.

A running job (or a parsing document) carries `lease_expires_at`; its worker renews it every third of the
lease. When the worker dies (kill -9, OOM, lost machine) the renewals stop, the lease lapses, and a reaper
re-queues or fails the row. When a renewal finds the lease gone (the job was cancelled or re-queued while this
worker was paused), `lost` is set and the work stops at its next check instead of writing stale results.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """This worker no longer holds the lease (cancelled, or re-queued after it lapsed)."""


def worker_identity() -> str:
    """`host:pid` of this process, recorded on the rows it claims (for operators reading the jobs table)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class LeaseKeeper:
    """Calls `renew()` every `interval` seconds in a daemon thread until `stop()`.

    `renew` returns False when the lease is no longer held; an exception from it (a database hiccup) is
    logged and retried at the next tick, since the lease outlives a few missed renewals.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, name: str = "lease"):
        self._renew = renew
        self.interval = max(0.05, float(interval))
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self._renew():
                    self.lost.set()
                    return
            except Exception:  # noqa: BLE001 - a missed renewal is survivable; a lapsed lease is the reaper's
                log.warning("could not renew a lease", exc_info=True)

    def check(self) -> None:
        """Raise `LeaseLost` once a renewal found the lease gone."""
        if self.lost.is_set():
            raise LeaseLost("the lease on this work was lost")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
