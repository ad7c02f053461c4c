"""Belgian working days and the syndic-registration deadline.

Working days (new Civil Code art. 1.7 §3): every day except Saturdays, Sundays and the ten
legal holidays: 1 January, Easter Monday, 1 May, Ascension, Whit Monday, 21 July, 15 August,
1 November, 11 November, 25 December. ``holidays.country_holidays("BE")`` lists them, plus
Easter Sunday and Whit Sunday, which fall on a Sunday anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import holidays

EXCEPTION_WORKING_DAYS = 8
"""A decision taken fewer than this many working days before the start gives this many
working days after the decision."""


@cache
def _legal_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BE", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _legal_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
    current = day
    while count > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current


def previous_working_day(day: date) -> date:
    """The last working day strictly before ``day``."""
    current = day - timedelta(days=1)
    while not is_working_day(current):
        current -= timedelta(days=1)
    return current


def working_days_between(first: date, last: date) -> int:
    """Working days strictly after ``first`` and strictly before ``last``."""
    count = 0
    current = first + timedelta(days=1)
    while current < last:
        count += is_working_day(current)
        current += timedelta(days=1)
    return count


@dataclass(frozen=True)
class Deadline:
    due: date
    """The last day to file."""
    short_notice: bool
    """The decision came fewer than 8 working days before the start: 8 working days after
    the decision apply instead of the working day before the start."""


def deadline(decision: date, start: date) -> Deadline:
    """When the request must be filed at the latest.

    Normally the working day before the mandate starts (or the change takes effect). When the
    decision was taken fewer than 8 working days before the start (the working days strictly
    between the two dates), the request may be filed until the 8th working day after the
    decision. At the boundary both rules give the same day, so the rule has no jump.
    """
    if working_days_between(decision, start) < EXCEPTION_WORKING_DAYS:
        return Deadline(add_working_days(decision, EXCEPTION_WORKING_DAYS), True)
    return Deadline(previous_working_day(start), False)


def is_late(due: date, filed_on: date) -> bool:
    return filed_on > due
