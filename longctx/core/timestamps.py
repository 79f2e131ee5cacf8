"""UTC timestamps as the service stores and shows them.

SQLite hands back naive datetimes even for `timezone=True` columns; every stored time is UTC, so a naive
value is read as UTC. One place for this, so the REST API, the job service and webhooks agree.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime | None) -> datetime | None:
    """`dt` with its time zone set to UTC when it has none (SQLite); None stays None."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset (`2026-01-02T03:04:05.123456+00:00`), or None."""
    dt = as_utc(dt)
    return dt.isoformat() if dt is not None else None
