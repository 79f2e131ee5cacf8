"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file in the data dir (no server).

Why this transport and not the filesystem one: several processes (API, cpu worker, gpu worker, CLI) publish
and consume at once. kombu's SQLAlchemy transport takes each message inside `BEGIN IMMEDIATE` on SQLite, so
exactly one consumer gets it (SQLite's write lock is the arbiter), publishing is one committed INSERT, and
a warm shutdown puts unacknowledged messages back. The filesystem transport relies on per-file `flock` and
an unsorted directory listing, has no ordering and no restore of unacked messages on Windows/network file
systems. The stock SQLAlchemy transport passes every transport option to `create_engine`, so the poll
interval cannot be tuned and SQLite runs without WAL; this subclass adds WAL + a busy timeout on connect and
a short poll interval, registered under the alias `lcsqla`.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import event

POLL_INTERVAL_S = 0.25
ALIAS = "lcsqla"


class Channel(kombu_sqla.Channel):
    def _engine_from_config(self):  # noqa: ANN202
        engine = super()._engine_from_config()
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        return engine


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = POLL_INTERVAL_S


TRANSPORT_ALIASES[ALIAS] = "longctx.broker.transport:Transport"


def resolve_broker_url(url: str) -> str:
    """Map the configured `sqla+...` URL onto the tuned transport; other URLs (redis://...) pass through."""
    for prefix in ("sqla+", "sqlalchemy+"):
        if url.startswith(prefix):
            return f"{ALIAS}+{url[len(prefix) :]}"
    return url


def is_embedded(url: str) -> bool:
    return url.startswith(("sqla+", "sqlalchemy+", f"{ALIAS}+"))


def prune_delivered(url: str, older_than_s: float = 3600.0) -> int:
    """Delete delivered messages of the embedded broker (kombu keeps them with `visible = 0` forever).

    Safe at any time: acknowledging never touches these rows, and a restored (unacked) message is re-inserted
    as a new row. Returns how many rows were removed; 0 for non-embedded brokers."""
    if not is_embedded(url):
        return 0
    from datetime import datetime, timedelta

    from sqlalchemy import create_engine, inspect, text

    sql_url = url.split("+", 1)[1]
    engine = create_engine(sql_url, connect_args={"timeout": 30})
    try:
        if not inspect(engine).has_table("kombu_message"):
            return 0
        cutoff = datetime.now() - timedelta(seconds=older_than_s)  # kombu stores naive local timestamps
        with engine.begin() as conn:
            result = conn.execute(
                # `timestamp` is set when a message is delivered (visible flips to 0).
                text(
                    "DELETE FROM kombu_message WHERE visible = 0"
                    ' AND ("timestamp" IS NULL OR "timestamp" < :c)'
                ),
                {"c": cutoff.isoformat(sep=" ")},
            )
            return result.rowcount or 0
    finally:
        engine.dispose()
