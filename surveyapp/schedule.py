"""Per-person measurement schedules: a pydantic model of the schedule YAML, a loader whose
errors say `FILE:LINE: message`, and the date and age arithmetic the work list and the
registration use.

A schedule says which measurements a case member gets (a background measurement at intake,
progress measurements M1, M2, ... a number of months after intake), the window around each
target date, and which instruments a member answers at each measurement, routed by role and
by age on the measurement date. Item-level rules hide single items from some members (the
leisure-job question only for those over 13).

This module is pure (no database), like `questionnaire.py`, whose Problem/QuestionnaireError
and line-map helpers it reuses.
"""
from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import SurveyError
from .questionnaire import Problem, Questionnaire, QuestionnaireError, _dedupe, _line_for, _line_map, read_text, read_yaml

SCHEDULE_DIR = Path(__file__).resolve().parent.parent / "questionnaires" / "schedules"
SCHEDULE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # also a file name in SCHEDULE_DIR: no '/', no leading '.'


class ScheduleError(QuestionnaireError):
    """A schedule file with problems; str() lists them as FILE:LINE: message."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Window(Strict):
    """Days before and after the target date in which the measurement counts as on time."""

    before: int = Field(default=14, ge=0, description="Days before the target date the window opens")
    after: int = Field(default=30, ge=0, description="Days after the target date the window closes")


class AgeRule(Strict):
    """Age in whole years on the measurement date. `from: 18` = 18 or older; `under: 18` =
    17 or younger; `over: 13` = 14 or older. Combine them for a band."""

    from_: int | None = Field(default=None, alias="from", ge=0)
    over: int | None = Field(default=None, ge=0)
    under: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def something(self):
        if self.from_ is None and self.over is None and self.under is None:
            raise ValueError("age needs at least one of from, over or under")
        if self.from_ is not None and self.over is not None:
            raise ValueError("age: give either from or over, not both")
        if self.under is not None and self.lowest() is not None and self.lowest() >= self.under:
            raise ValueError(f"age: no age is at least {self.lowest()} and under {self.under}")
        return self

    def lowest(self) -> int | None:
        if self.from_ is not None:
            return self.from_
        if self.over is not None:
            return self.over + 1
        return None

    def holds(self, age: int) -> bool:
        low = self.lowest()
        if low is not None and age < low:
            return False
        if self.under is not None and age >= self.under:
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.from_ is not None:
            parts.append(f"fra {self.from_} år")
        if self.over is not None:
            parts.append(f"over {self.over} år")
        if self.under is not None:
            parts.append(f"under {self.under} år")
        return " og ".join(parts)


class Role(Strict):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    label: str
    label_en: str | None = None


class Slot(Strict):
    """One measurement of the schedule: `months` after intake (0 = the background measurement)."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    label: str
    label_en: str | None = None
    months: int = Field(ge=0, description="Months after the member's intake date")
    window: Window | None = Field(default=None, description="Overrides the schedule's window")


class Route(Strict):
    """Who answers an instrument: members with one of `roles` whose age fits `age`, at `slots`."""

    questionnaire: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    roles: list[str] | None = Field(default=None, description="All roles when absent")
    age: AgeRule | None = None
    slots: list[str] | None = Field(default=None, description="All measurements when absent")


class ItemRule(Strict):
    """Ask an item of an instrument only of members with one of `roles` and/or whose age fits `age`."""

    questionnaire: str
    item: str
    roles: list[str] | None = None
    age: AgeRule | None = None

    @model_validator(mode="after")
    def has_condition(self):
        if self.roles is None and self.age is None:
            raise ValueError("an item rule needs roles or age")
        return self


class Schedule(Strict):
    id: str = Field(pattern=SCHEDULE_ID)
    title: str
    title_en: str | None = None
    roles: list[Role] = Field(min_length=1)
    window: Window = Field(default_factory=Window)
    measurements: list[Slot] = Field(min_length=1)
    instruments: list[Route] = Field(min_length=1)
    item_rules: list[ItemRule] = Field(default_factory=list)

    # ---- lookups

    def slot(self, slot_id: str) -> Slot:
        for slot in self.measurements:
            if slot.id == slot_id:
                return slot
        raise KeyError(slot_id)

    def slot_ids(self) -> list[str]:
        return [s.id for s in self.measurements]

    def role_ids(self) -> list[str]:
        return [r.id for r in self.roles]

    def role_label(self, role_id: str) -> str:
        for role in self.roles:
            if role.id == role_id:
                return role.label
        return role_id

    def questionnaire_ids(self) -> list[str]:
        seen: list[str] = []
        for route in self.instruments:
            if route.questionnaire not in seen:
                seen.append(route.questionnaire)
        return seen

    def window_of(self, slot: Slot) -> Window:
        return slot.window or self.window

    # ---- dates and routing

    def due(self, slot_id: str, intake: dt.date) -> tuple[dt.date, dt.date, dt.date]:
        """(target date, first day of the window, last day of the window), both ends inclusive."""
        slot = self.slot(slot_id)
        target = add_months(intake, slot.months)
        window = self.window_of(slot)
        return target, target - dt.timedelta(days=window.before), target + dt.timedelta(days=window.after)

    def instruments_for(self, slot_id: str, role: str, age: int) -> list[str]:
        """The questionnaire ids a member with this role and age answers at this measurement."""
        chosen = []
        for route in self.instruments:
            if route.slots is not None and slot_id not in route.slots:
                continue
            if route.roles is not None and role not in route.roles:
                continue
            if route.age is not None and not route.age.holds(age):
                continue
            if route.questionnaire not in chosen:
                chosen.append(route.questionnaire)
        return chosen

    def hidden_items(self, questionnaire_id: str, role: str, age: int) -> set[str]:
        """Items of the instrument this member is not asked (item rules that do not hold)."""
        hidden = set()
        for rule in self.item_rules:
            if rule.questionnaire != questionnaire_id:
                continue
            if rule.roles is not None and role not in rule.roles:
                hidden.add(rule.item)
            elif rule.age is not None and not rule.age.holds(age):
                hidden.add(rule.item)
        return hidden


# ---------------------------------------------------------------- date arithmetic


def parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def age_on(birth, on) -> int:
    """Age in whole years on a date: the birthday itself counts (turning 18 on the day means 18).
    Someone born on 29 February turns a year older on 1 March in years without that day."""
    birth, on = parse_date(birth), parse_date(on)
    if on < birth:
        raise SurveyError(f"{on.isoformat()} is before the birth date {birth.isoformat()}")
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def add_months(start, months: int) -> dt.date:
    """The same day `months` later; a day the month lacks becomes its last day (31 Aug + 6 = 28/29 Feb)."""
    start = parse_date(start)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def slot_state(window_start: dt.date, window_end: dt.date, today: dt.date, done: bool,
               closed_on: dt.date | None = None) -> str:
    """done / upcoming / due / overdue / not_due (closed before the window opened)."""
    if done:
        return "done"
    if closed_on is not None and closed_on < window_start:
        return "not_due"
    if today < window_start:
        return "upcoming"
    if today <= window_end:
        return "due"
    return "overdue"


# ---------------------------------------------------------------- loading


def parse(text: str, filename: str = "<string>", questionnaires: dict[str, Questionnaire] | None = None) -> Schedule:
    """Validate schedule YAML; raise ScheduleError listing every problem with its line.

    With `questionnaires` (id -> model) the instruments and items the schedule names are checked too.
    """
    node, data = read_yaml(text, filename, ScheduleError)
    if node is None or not isinstance(data, dict):
        raise ScheduleError([Problem(filename, 1, "a schedule must be a YAML mapping with id, title, roles, measurements and instruments")])
    lines = _line_map(node)
    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            where = ".".join(str(x) for x in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            problems.append(Problem(filename, _line_for(lines, e["loc"]), f"{where}: {message}" if where else message))
        raise ScheduleError(_dedupe(problems)) from None
    problems = [Problem(filename, _line_for(lines, loc), msg) for loc, msg in check_references(schedule, questionnaires)]
    if problems:
        raise ScheduleError(_dedupe(problems))
    return schedule


def check_references(s: Schedule, questionnaires: dict[str, Questionnaire] | None = None) -> list[tuple[tuple, str]]:
    problems: list[tuple[tuple, str]] = []
    roles = s.role_ids()
    for index, role in enumerate(s.roles):
        if roles.count(role.id) > 1 and roles.index(role.id) != index:
            problems.append((("roles", index, "id"), f"duplicate role id '{role.id}'"))
    slot_ids = s.slot_ids()
    previous = None
    for index, slot in enumerate(s.measurements):
        if slot_ids.index(slot.id) != index:
            problems.append((("measurements", index, "id"), f"duplicate measurement id '{slot.id}'"))
        if previous is not None and slot.months <= previous:
            problems.append((("measurements", index, "months"), f"measurement '{slot.id}': months must increase ({slot.months} after {previous})"))
        previous = slot.months
    for index, route in enumerate(s.instruments):
        for n, role in enumerate(route.roles or []):
            if role not in roles:
                problems.append((("instruments", index, "roles", n), f"unknown role '{role}' (roles: {', '.join(roles)})"))
        for n, slot in enumerate(route.slots or []):
            if slot not in slot_ids:
                problems.append((("instruments", index, "slots", n), f"unknown measurement '{slot}' (measurements: {', '.join(slot_ids)})"))
        if questionnaires is not None and route.questionnaire not in questionnaires:
            problems.append((("instruments", index, "questionnaire"), f"unknown questionnaire '{route.questionnaire}'"))
    for index, rule in enumerate(s.item_rules):
        if rule.questionnaire not in s.questionnaire_ids():
            problems.append((("item_rules", index, "questionnaire"), f"questionnaire '{rule.questionnaire}' is not routed under instruments"))
        elif questionnaires is not None and rule.questionnaire in questionnaires:
            q = questionnaires[rule.questionnaire]
            try:
                item = q.item(rule.item)
            except KeyError:
                problems.append((("item_rules", index, "item"), f"questionnaire '{rule.questionnaire}' has no item '{rule.item}'"))
            else:
                if item.required:
                    problems.append((("item_rules", index, "item"), f"item '{rule.item}' is required and cannot be hidden by a rule"))
                used = [score.id for score in q.scores if rule.item in score.items]
                if used:
                    problems.append((("item_rules", index, "item"), f"item '{rule.item}' enters score {', '.join(used)} and cannot be hidden by a rule"))
        for n, role in enumerate(rule.roles or []):
            if role not in roles:
                problems.append((("item_rules", index, "roles", n), f"unknown role '{role}'"))
    return problems


def read_file(path: str | Path) -> str:
    """A schedule file's text; a file that cannot be read is a ScheduleError naming the file."""
    return read_text(path, ScheduleError)


def load_file(path: str | Path, questionnaires: dict[str, Questionnaire] | None = None) -> Schedule:
    return parse(read_file(path), str(path), questionnaires)
