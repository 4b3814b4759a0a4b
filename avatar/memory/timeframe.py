"""Time words in a memory query ("yesterday", "last week", "3 days ago", "in March") as a window of time.

Search uses the window as one more ranking signal (memories dated inside it rank higher), never as a
hard filter: people are vague about when things happened. Windows are whole UTC days, anchored at
`now`; the caller decides what "now" is (the present, or the date a question was asked). Only the
first time phrase of a query counts; `rest` is the query without it, for the topical part of the search.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a couple": 2,
    "couple of": 2, "a few": 3, "few": 3, "several": 4,
}  # fmt: skip
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

_NUMBER = r"(?P<n>\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_WITHIN = r"(?:in|over|during|within)"
_YEAR = r"(?:\s+(?P<year>(?:19|20)\d\d))?"


@dataclass(frozen=True)
class TimeFrame:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    phrase: str  # the words that named it
    rest: str  # the query without them


def _day(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _next_month(start: datetime) -> datetime:
    return _month_start(start.year + (start.month == 12), start.month % 12 + 1)


def _count(word: str) -> int:
    word = " ".join(word.lower().split())
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word, 1)


def _month_window(month: int, year: int | None, now: datetime) -> tuple[datetime, datetime]:
    if year is None:  # the latest such month that has begun
        year = now.year if month <= now.month else now.year - 1
    start = _month_start(year, month)
    return start, _next_month(start)


def _patterns(now: datetime) -> list[tuple[re.Pattern[str], object]]:
    today = _day(now)
    week_start = today - timedelta(days=today.weekday())  # Monday
    month_start = _month_start(today.year, today.month)
    tomorrow = today + timedelta(days=1)

    def days_back(days: int) -> tuple[datetime, datetime]:
        return today - timedelta(days=days), today - timedelta(days=days - 1)

    def previous(unit: str) -> tuple[datetime, datetime]:
        unit = unit.lower()
        if unit == "week":
            return week_start - timedelta(days=7), week_start
        if unit == "month":
            start = _month_start(today.year - (today.month == 1), (today.month - 2) % 12 + 1)
            return start, month_start
        return datetime(today.year - 1, 1, 1, tzinfo=timezone.utc), datetime(today.year, 1, 1, tzinfo=timezone.utc)

    def current(unit: str) -> tuple[datetime, datetime]:
        unit = unit.lower()
        if unit == "week":
            return week_start, tomorrow
        if unit == "month":
            return month_start, tomorrow
        return datetime(today.year, 1, 1, tzinfo=timezone.utc), tomorrow

    def ago(m: re.Match[str]) -> tuple[datetime, datetime]:
        days = UNIT_DAYS[m["unit"].lower()]
        centre = today - timedelta(days=_count(m["n"]) * days)
        half = timedelta(days=max(1, days // 2))
        return centre - half, centre + half + timedelta(days=1)

    def within(m: re.Match[str]) -> tuple[datetime, datetime]:
        return today - timedelta(days=_count(m["n"] or "1") * UNIT_DAYS[m["unit"].lower()]), tomorrow

    def weekday(m: re.Match[str]) -> tuple[datetime, datetime]:
        back = (today.weekday() - WEEKDAYS[m["weekday"].lower()]) % 7 or 7
        day = today - timedelta(days=back)
        return day, day + timedelta(days=1)

    def weekend(m: re.Match[str]) -> tuple[datetime, datetime]:
        saturday = week_start + timedelta(days=5)
        if m["which"].lower() != "this" and saturday + timedelta(days=1) >= today:
            saturday -= timedelta(days=7)  # "last weekend" while this one is not over yet: the one before
        return saturday, saturday + timedelta(days=2)

    def month_day(m: re.Match[str]) -> tuple[datetime, datetime]:
        month, day = MONTHS[m["month"].lower().rstrip(".")], int(m["day"])
        year = int(m["year"]) if m["year"] else None
        if year is None:
            year = now.year if (month, day) <= (today.month, today.day) else now.year - 1
        try:
            start = datetime(year, month, day, tzinfo=timezone.utc)
        except ValueError:
            return _month_window(month, year, now)
        return start, start + timedelta(days=1)

    def iso_day(m: re.Match[str]) -> tuple[datetime, datetime]:
        start = datetime(int(m["y"]), int(m["m"]), int(m["d"]), tzinfo=timezone.utc)
        return start, start + timedelta(days=1)

    def month(m: re.Match[str]) -> tuple[datetime, datetime]:
        return _month_window(MONTHS[m["month"].lower().rstrip(".")], int(m["year"]) if m["year"] else None, now)

    def year(m: re.Match[str]) -> tuple[datetime, datetime]:
        value = int(m["year"])
        return datetime(value, 1, 1, tzinfo=timezone.utc), datetime(value + 1, 1, 1, tzinfo=timezone.utc)

    flags = re.IGNORECASE
    return [
        (re.compile(r"\b(?:on\s+)?(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b", flags), iso_day),
        (
            re.compile(
                rf"\b(?:on\s+)?{_MONTH}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>(?:19|20)\d\d))?", flags
            ),
            month_day,
        ),
        (re.compile(r"\b(?:the\s+)?day\s+before\s+yesterday\b", flags), lambda m: days_back(2)),
        (re.compile(r"\byesterday\b|\blast\s+night\b", flags), lambda m: days_back(1)),
        (re.compile(r"\btoday\b|\btonight\b|\bthis\s+(?:morning|afternoon|evening)\b", flags), lambda m: days_back(0)),
        (re.compile(rf"\b{_NUMBER}\s+{_UNIT}\s+ago\b", flags), ago),
        (re.compile(rf"\b(?:{_WITHIN}\s+)?(?:the\s+)?past\s+(?:{_NUMBER}\s+)?{_UNIT}\b", flags), within),
        (re.compile(rf"\b(?:{_WITHIN}\s+)?the\s+last\s+(?:{_NUMBER}\s+)?{_UNIT}\b", flags), within),
        (re.compile(rf"\blast\s+{_NUMBER}\s+{_UNIT}\b", flags), within),
        (re.compile(r"\b(?P<which>last|this\s+past|past|previous|this)\s+weekend\b", flags), weekend),
        (re.compile(r"\b(?:last|previous)\s+(?P<unit>week|month|year)\b", flags), lambda m: previous(m["unit"])),
        (re.compile(r"\bthis\s+(?P<unit>week|month|year)\b", flags), lambda m: current(m["unit"])),
        (re.compile(rf"\b(?:last|this\s+past|past|on)\s+{_WEEKDAY}\b", flags), weekday),
        (
            re.compile(rf"\b(?:in|during|back\s+in|last|early|late)\s+(?:(?:early|late|mid)\s+)?{_MONTH}\b{_YEAR}", flags),
            month,
        ),
        (re.compile(r"\b(?:in|during|back\s+in)\s+(?P<year>(?:19|20)\d\d)\b", flags), year),
    ]  # fmt: skip


def find_timeframe(query: str, now: datetime) -> TimeFrame | None:
    """The window of time `query` names, relative to `now`, or None when it names none.

    A bare month name never counts ("may", "march" are verbs too): only after in/during/last.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    for pattern, window in _patterns(now):
        match = pattern.search(query)
        if match is None:
            continue
        start, end = window(match)  # type: ignore[operator]
        rest = " ".join((query[: match.start()] + " " + query[match.end() :]).split())
        return TimeFrame(start=start, end=end, phrase=match.group(0), rest=rest)
    return None
