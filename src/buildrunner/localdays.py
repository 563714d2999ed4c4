"""Local calendar days, weeks and months as epoch seconds, right across daylight-saving changes.

`datetime.astimezone()` gives one fixed UTC offset (the one in force at that instant): adding days to it, or
shifting every timestamp by today's offset, puts an hour of one day on its neighbour whenever a window spans a
clock change (spend at 00:30 on a July night was booked on the day before when read in winter; a March budget
counted the last hour of February). Here every boundary is the local midnight of its own date, under the system
zone's rules for that date.
"""

from __future__ import annotations

import datetime as dt
import time

DAY_S = 86_400.0  # seconds in a day of the clock (a calendar day may have 23 or 25 hours: see local_midnight)
WEEK_S = 7 * DAY_S
QUARTER_HOUR_S = 900  # every zone's offset is a multiple of it, so such a slot never straddles a local midnight


def local_date(ts: float) -> dt.date:
    """The local calendar date of an instant; the first or last date for one beyond the calendar (a time stored in
    milliseconds by an older release: shown on a date nobody can miss rather than failing every report)."""
    try:
        t = time.localtime(ts)
        return dt.date(t.tm_year, t.tm_mon, t.tm_mday)
    except (OverflowError, OSError, ValueError):
        return dt.date.max if ts > 0 else dt.date.min


def midnight(day: dt.date) -> float:
    """Epoch seconds of the local midnight starting `day` (where a clock change skips midnight, its first instant)."""
    return time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1))


def period_bounds(period: str, at: float) -> tuple[float, float]:
    """(start, end) of the local day, week (from Monday) or month holding `at`."""
    day = local_date(at)
    if period == "day":
        first, after = day, day + dt.timedelta(days=1)
    elif period == "week":
        first = day - dt.timedelta(days=day.weekday())
        after = first + dt.timedelta(days=7)
    elif period == "month":
        first = day.replace(day=1)
        after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    else:
        raise ValueError(f"period {period!r}: day, week or month")
    return midnight(first), midnight(after)


def last_days(days: int, at: float) -> list[dt.date]:
    """The `days` local dates ending with the one holding `at`, oldest first."""
    today = local_date(at)
    return [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
