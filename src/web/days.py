"""Days typed into filters and statement forms: calendar days in the shop's time zone, turned into the
instants that bound them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import ValidationFailed


def parse_day(text: str, field: str) -> date | None:
    """An ISO date, or None when left empty; anything else is `field`'s invalid_date."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed({field: "invalid_date"}) from None


def start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def day_start(text: str, zone: ZoneInfo, field: str) -> datetime | None:
    """The first instant of the typed day (None when empty)."""
    day = parse_day(text, field)
    return start_of(day, zone) if day else None


def day_after(text: str, zone: ZoneInfo, field: str) -> datetime | None:
    """The first instant after the typed day: the end of a range that includes it."""
    day = parse_day(text, field)
    return start_of(day + timedelta(days=1), zone) if day else None
