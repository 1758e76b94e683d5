"""The questionnaire format: a pydantic model of the YAML, and a loader whose errors say
`FILE:LINE: message`.

This module is pure (no database). `questionnaire_store.py` registers validated
questionnaires as versions in the database.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

ItemType = Literal["scale", "single", "multiple", "number", "text", "date", "info"]
# Items whose answers are numbers and so can enter means, indices and scores.
NUMERIC_TYPES = ("scale", "single", "number")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(Strict):
    code: int = Field(description="Numeric code stored and exported for this option")
    label: str = Field(description="Danish label")
    label_en: str | None = Field(default=None, description="English label")


class Scale(Strict):
    options: list[Option] = Field(min_length=1, description="Substantive options, in display order")
    missing: list[Option] = Field(
        default_factory=list,
        description='Non-substantive options such as "Ved ikke": stored, never scored',
    )
    reverse_max: int | None = Field(
        default=None,
        description="Reverse-keying uses min+max of the option codes unless this says otherwise",
    )


class ShowIf(Strict):
    """Show an item only when an earlier item's answer is one of `in` (or equals `equals`)."""

    item: str
    equals: int | None = None
    in_: list[int] | None = Field(default=None, alias="in")
    answered: bool | None = Field(default=None, description="true: shown when the item has any answer")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def one_condition(self):
        given = [x is not None for x in (self.equals, self.in_, self.answered)]
        if sum(given) != 1:
            raise ValueError("show_if needs exactly one of equals, in or answered")
        return self

    def codes(self) -> list[int] | None:
        if self.equals is not None:
            return [self.equals]
        return self.in_

    def holds(self, answers: dict[str, Any]) -> bool:
        value = answers.get(self.item)
        if self.answered is not None:
            return (value not in (None, "", [])) == self.answered
        codes = self.codes() or []
        if isinstance(value, list):
            return any(v in codes for v in value)
        return value in codes


class Item(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Stable id; also the form field and export variable name")
    type: ItemType | None = Field(default=None, description="Defaults to scale when `scale` is given, else text")
    text: str = Field(description="Danish wording")
    text_en: str | None = None
    help: str | None = None
    help_en: str | None = None
    scale: str | None = Field(default=None, description="Name of a scale under `scales`")
    options: list[Option] | None = Field(default=None, description="Inline options for single/multiple choice")
    missing: list[Option] | None = Field(default=None, description="Inline non-substantive options")
    required: bool = False
    show_if: ShowIf | None = None
    reverse: bool = Field(default=False, description="Reverse-keyed: reversed before any mean, index or score")
    groups: list[str] | None = Field(default=None, description="Respondent groups the item applies to (all when absent)")
    version: int = Field(default=1, ge=1, description="Raise when the wording changes; trends never join two versions")
    construct_id: str | None = Field(default=None, alias="construct", description="Links parallel items across questionnaires (e.g. staff vs managers)")
    min: float | None = None
    max: float | None = None
    multiline: bool = False
    max_length: int = Field(default=5000, ge=1, le=100_000)

    @model_validator(mode="after")
    def default_type(self):
        if self.type is None:
            self.type = "scale" if self.scale else ("single" if self.options else "text")
        return self


class Section(Strict):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str
    title_en: str | None = None
    intro: str | None = None
    intro_en: str | None = None
    items: list[Item] = Field(min_length=1)


class Thresholds(Strict):
    """Traffic-light cut-offs: green when score >= green, yellow when >= yellow, else red."""

    green: float
    yellow: float

    @model_validator(mode="after")
    def ordered(self):
        if self.yellow > self.green:
            raise ValueError("thresholds: yellow must not be above green")
        return self


class Index(Strict):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str
    title_en: str | None = None
    items: list[str] = Field(min_length=1)
    min_share: float = Field(default=0.0, ge=0, le=1, description="Minimum share of the items answered before the index counts")
    thresholds: Thresholds | None = None
    targets: dict[str, float] | None = Field(default=None, description="Optional target score per round name")


class Cutoff(Strict):
    value: float
    label: str


class Score(Strict):
    """A computed score such as WHO-5: sum (or mean) of items, times a multiplier."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str
    title_en: str | None = None
    items: list[str] = Field(min_length=1)
    method: Literal["sum", "mean"] = "sum"
    multiplier: float = 1.0
    offset: float = Field(default=0.0, description="Added to every item code before summing (e.g. -1 to score 1-6 as 0-5)")
    min_answered: int | None = Field(default=None, ge=1, description="Items needed; all when absent")
    cutoffs: list[Cutoff] = Field(default_factory=list)


class Questionnaire(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str
    title_en: str | None = None
    language: Literal["da", "en"] = "da"
    personal: bool = Field(default=True, description="false: answered for a unit, results shown at any n")
    kind: Literal["survey", "fidelity", "self_evaluation", "progress"] = "survey"
    intro: str | None = None
    intro_en: str | None = None
    groups: list[str] | None = Field(default=None, description="Respondent groups this questionnaire is for")
    scales: dict[str, Scale] = Field(default_factory=dict)
    sections: list[Section] = Field(min_length=1)
    indices: list[Index] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    _items_by_id: tuple | None = PrivateAttr(default=None)  # item(): (sections, {id: Item}), built on first use

    # ---- lookups used by the answer pages, the services and the analysis layer ----

    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def items_by_id(self) -> dict[str, Item]:
        """{item id: Item}, built on first use. For loops over many answers: one look-up of this
        dict, then plain dict reads (reading a pydantic private attribute costs ~1.5 us a time)."""
        cached = self._items_by_id
        if cached is None or cached[0] is not self.sections:  # first use, or a copy of the model
            cached = self._items_by_id = (self.sections, {item.id: item for item in self.items()})
        return cached[1]

    def item(self, item_id: str) -> Item:
        """The item with this id (KeyError if none), from items_by_id(); an id it does not know
        is looked for again in the sections (an item added after the first call is still found)."""
        by_id = self.items_by_id()
        found = by_id.get(item_id)
        if found is not None:
            return found
        for item in self.items():
            if item.id == item_id:
                by_id[item_id] = item
                return item
        raise KeyError(item_id)

    def question_items(self) -> list[Item]:
        return [i for i in self.items() if i.type != "info"]

    def options(self, item: Item) -> list[Option]:
        if item.scale:
            return self.scales[item.scale].options
        return item.options or []

    def missing_options(self, item: Item) -> list[Option]:
        if item.missing is not None:
            return item.missing
        if item.scale:
            return self.scales[item.scale].missing
        return []

    def substantive_codes(self, item: Item) -> list[int]:
        return [o.code for o in self.options(item)]

    def missing_codes(self, item: Item) -> list[int]:
        return [o.code for o in self.missing_options(item)]

    def reverse_value(self, item: Item, code: float) -> float:
        codes = self.substantive_codes(item)
        top = (self.scales[item.scale].reverse_max if item.scale and self.scales[item.scale].reverse_max else None)
        return (min(codes) + (top or max(codes))) - code

    def applies_to_group(self, item: Item, group: str | None) -> bool:
        return not item.groups or not group or group in item.groups

    def is_shown(self, item: Item, answers: dict[str, Any], group: str | None = None,
                 not_asked: Collection[str] = frozenset()) -> bool:
        """Whether a respondent with these answers (and group) is asked the item at all.
        `not_asked`: ids of items this respondent is never asked (e.g. routed away by age on
        the invitation); such an item, and an item whose show_if depends on one, is not shown."""
        if item.id in not_asked or not self.applies_to_group(item, group):
            return False
        if item.show_if is None:
            return True
        # A condition on a hidden item is false, whatever is stored for it.
        source = self.item(item.show_if.item)
        if not self.is_shown(source, answers, group, not_asked):
            return False
        return item.show_if.holds(answers)

    def applicable_items(self, answers: dict[str, Any], group: str | None = None,
                         not_asked: Collection[str] = frozenset()) -> list[Item]:
        return [i for i in self.question_items() if self.is_shown(i, answers, group, not_asked)]


# ---------------------------------------------------------------- answers


class AnswerError(ValueError):
    """An answer that does not fit its item; the message is shown next to the item."""


def parse_answer(q: Questionnaire, item: Item, raw: Any) -> tuple[float | None, str | None] | None:
    """Turn a submitted value (form string, list or imported cell) into (value_num, value_text).

    Returns None for "not answered". Raises AnswerError with a Danish message the page shows.
    Option labels are accepted as well as codes, so imports from other tools work.
    """
    if item.type == "info":
        return None
    if item.type == "multiple":
        values = raw if isinstance(raw, (list, tuple)) else ([] if raw in (None, "") else str(raw).split(","))
        values = [v for v in (str(v).strip() for v in values) if v != ""]
        if not values:
            return None
        codes = sorted({_option_code(q, item, v) for v in values})
        return None, json.dumps(codes)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    text = str(raw).strip()
    if item.type in ("scale", "single"):
        return float(_option_code(q, item, text)), None
    if item.type == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise AnswerError("Skriv et tal.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise AnswerError("Skriv et tal.")
        if item.min is not None and number < item.min:
            raise AnswerError(f"Tallet skal være mindst {_fmt(item.min)}.")
        if item.max is not None and number > item.max:
            raise AnswerError(f"Tallet må højst være {_fmt(item.max)}.")
        return number, None
    if item.type == "date":
        try:
            dt.date.fromisoformat(text[:10])
        except ValueError:
            raise AnswerError("Skriv en dato som ÅÅÅÅ-MM-DD.") from None
        if len(text) > 10 and text[10] not in "T ":  # a date, or a date with a time of day
            raise AnswerError("Skriv en dato som ÅÅÅÅ-MM-DD.")
        return None, text[:10]
    if len(text) > item.max_length:
        raise AnswerError(f"Svaret må højst være {item.max_length} tegn.")
    return None, text


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number).replace(".", ",")


def _option_code(q: Questionnaire, item: Item, value: str) -> int:
    allowed = q.options(item) + q.missing_options(item)
    number = _as_int(value)
    for option in allowed:
        if number is not None and number == option.code:
            return option.code
    folded = value.casefold()
    for option in allowed:
        if folded in (option.label.casefold(), (option.label_en or "").casefold()):
            return option.code
    raise AnswerError("Vælg en af svarmulighederne.")


def _as_int(value: str) -> int | None:
    """'3', '3.0' and ' 3 ' are the code 3 (spreadsheets write whole numbers as floats)."""
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def decode_answer(item: Item, value_num: float | None, value_text: str | None) -> Any:
    """The stored row back to what the form and the analysis layer use."""
    if item.type == "multiple":
        return json.loads(value_text) if value_text else []
    if item.type in ("scale", "single"):
        return None if value_num is None else int(value_num)
    if item.type == "number":
        return value_num
    return value_text


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class QuestionnaireError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _line_map(node: yaml.Node, path: tuple = (), lines: dict | None = None,
              duplicates: list | None = None) -> dict[tuple, int]:
    """Map each path in the document (keys and list indices) to its 1-based line.

    A key given twice in one mapping (YAML keeps the last silently) is appended to
    `duplicates` as (line, key) when a list is passed.
    """
    lines = {} if lines is None else lines
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        keys_here: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in keys_here and duplicates is not None:
                duplicates.append((key_node.start_mark.line + 1, key))
            keys_here.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, path + (key,), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _line_map(child, path + (index,), lines, duplicates)
    return lines


def _line_for(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple(x for x in loc if not (isinstance(x, str) and x.startswith("function-")))
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader with the limits a definition file needs: no anchors or aliases (nine
    nested aliases make a 'billion laughs' document that takes gigabytes to walk), at most
    MAX_DEPTH levels of nesting (deeper would exhaust Python's recursion), and a date that does not
    exist ('2013-02-30') is an error at its line instead of a ValueError."""

    MAX_DEPTH = 50

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (*name) are not supported; write the value out",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > self.MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {self.MAX_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as problem:
            raise yaml.constructor.ConstructorError(None, None, f"'{node.value}' is not a date ({problem})",
                                                    node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def read_yaml(text: str, filename: str, error: type[QuestionnaireError] = QuestionnaireError) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of a YAML document, or `error` with FILE:LINE.

    One parse gives both (yaml.safe_load is these same two steps). Shared by every YAML format
    the project reads (questionnaires, schedules).
    """
    loader = None
    try:
        loader = _Loader(text)  # the reader checks the characters as the loader is made
        node = loader.get_single_node()
        return node, (None if node is None else loader.construct_document(node))
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        line = mark.line + 1 if mark else 1
        raise error([Problem(filename, line, f"invalid YAML: {problem.problem or problem}")]) from None
    except yaml.reader.ReaderError as problem:  # a character YAML does not allow, e.g. a control character
        line = text.count("\n", 0, problem.position) + 1
        raise error([Problem(filename, line, f"invalid YAML: {problem.reason} (character {problem.character!r})")]) from None
    except yaml.YAMLError as problem:
        raise error([Problem(filename, 1, f"invalid YAML: {problem}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text(path: str | Path, error: type[QuestionnaireError] = QuestionnaireError) -> str:
    """A YAML file's text; unreadable or non-UTF-8 is `error` naming the file (and the line of the bad byte)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise error([Problem(str(path), 1, f"cannot read file: {problem.strerror or problem}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data[:problem.start].count(b"\n") + 1
        raise error([Problem(str(path), line, f"not UTF-8 text (byte 0x{data[problem.start]:02x}); "
                                              "save the file as UTF-8")]) from None


def parse(text: str, filename: str = "<string>") -> Questionnaire:
    """Validate YAML text; raise QuestionnaireError listing every problem found.

    Structural problems (pydantic) and cross-reference problems (unknown scale, show_if on a
    later item, ...) are reported together: after a structural error the broken parts are set
    aside and the rest is still checked, so one run lists everything there is to fix.
    """
    node, data = read_yaml(text, filename)
    if node is None or not isinstance(data, dict):
        raise QuestionnaireError([Problem(filename, 1, "a questionnaire must be a YAML mapping with id, title and sections")])
    duplicates: list[tuple[int, str]] = []
    lines = _line_map(node, duplicates=duplicates)
    problems = [Problem(filename, line, f"key '{key}' is given twice (YAML would keep only the last)")
                for line, key in duplicates]
    removed: set[str] = set()
    translate = _identity
    try:
        questionnaire: Questionnaire | None = Questionnaire.model_validate(data)
    except ValidationError as error:
        for e in error.errors():
            where = ".".join(str(x) for x in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            problems.append(Problem(filename, _line_for(lines, e["loc"]), f"{where}: {message}" if where else message))
        questionnaire, removed, translate = _salvage(data, error.errors())
    if questionnaire is not None:
        for loc, msg in check_references(questionnaire):
            if any(f"'{name}'" in msg for name in removed):
                continue  # a consequence of a part already reported as broken
            problems.append(Problem(filename, _line_for(lines, translate(loc)), msg))
    if problems:
        raise QuestionnaireError(_dedupe(problems))
    return questionnaire


def _identity(loc: tuple) -> tuple:
    return loc


def _salvage(data: dict, errors: list[dict]):
    """The document without the parts pydantic rejected, for the cross-reference checks.

    Returns (questionnaire or None, names of removed items/scales, a function mapping a
    location in the reduced document back to the original one).
    """
    data = copy.deepcopy(data)
    drop_items: set[tuple[int, int]] = set()
    drop_sections: set[int] = set()
    drop_entries: dict[str, set[int]] = {"indices": set(), "scores": set()}
    drop_scales: set[str] = set()
    for e in errors:
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        if e["type"] == "extra_forbidden" and loc:
            parent = _get(data, loc[:-1])
            if isinstance(parent, dict):
                parent.pop(loc[-1], None)
                continue
        if len(loc) >= 5 and loc[0] == "sections" and loc[2] == "items" and isinstance(loc[1], int) and isinstance(loc[3], int):
            drop_items.add((loc[1], loc[3]))
        elif len(loc) >= 2 and loc[0] == "sections" and isinstance(loc[1], int):
            drop_sections.add(loc[1])
        elif len(loc) >= 2 and loc[0] in drop_entries and isinstance(loc[1], int):
            drop_entries[loc[0]].add(loc[1])
        elif len(loc) >= 2 and loc[0] == "scales":
            drop_scales.add(str(loc[1]))
        elif len(loc) == 1 and loc[0] in ("title", "title_en", "intro", "intro_en"):
            data[loc[0]] = "?"
        elif len(loc) == 1 and loc[0] == "id":
            data["id"] = "unknown"
        elif len(loc) == 1 and loc[0] in ("language", "personal", "kind", "groups"):
            data.pop(loc[0], None)
        else:
            return None, set(), _identity
    removed: set[str] = set(drop_scales)
    try:
        scales = data.get("scales")
        if isinstance(scales, dict):
            for name in drop_scales:
                scales.pop(name, None)
        section_map, item_map, new_sections = [], {}, []
        for s_index, section in enumerate(data.get("sections") or []):
            items = section.get("items") if isinstance(section, dict) else None
            if s_index in drop_sections or not isinstance(items, list):
                for item in items or []:
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        removed.add(item["id"])
                continue
            kept = []
            for i_index, item in enumerate(items):
                if (s_index, i_index) in drop_items:
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        removed.add(item["id"])
                    continue
                item_map[(len(new_sections), len(kept))] = i_index
                kept.append(item)
            if not kept:
                continue
            section_map.append(s_index)
            new_sections.append({**section, "items": kept})
        data["sections"] = new_sections
        entry_maps = {}
        for kind, dropped in drop_entries.items():
            entries = data.get(kind) or []
            entry_maps[kind] = [k for k in range(len(entries)) if k not in dropped]
            data[kind] = [entries[k] for k in entry_maps[kind]]
        questionnaire = Questionnaire.model_validate(data)
    except (ValidationError, AttributeError, TypeError):
        return None, set(), _identity

    def translate(loc: tuple) -> tuple:
        if len(loc) >= 2 and loc[0] == "sections" and isinstance(loc[1], int):
            new_s = loc[1]
            loc = ("sections", section_map[new_s]) + loc[2:]
            if len(loc) >= 4 and loc[2] == "items" and isinstance(loc[3], int):
                loc = loc[:3] + (item_map[(new_s, loc[3])],) + loc[4:]
        elif len(loc) >= 2 and loc[0] in entry_maps and isinstance(loc[1], int):
            loc = (loc[0], entry_maps[loc[0]][loc[1]]) + loc[2:]
        return loc

    return questionnaire, removed, translate


def _get(data, path: tuple):
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, result = set(), []
    for p in problems:
        if (p.line, p.message) not in seen:
            seen.add((p.line, p.message))
            result.append(p)
    return sorted(result, key=lambda p: p.line)


def load_file(path: str | Path) -> Questionnaire:
    return parse(read_text(path), str(path))


def check_references(q: Questionnaire) -> list[tuple[tuple, str]]:
    """Cross-field rules pydantic cannot see: (location, message) for each problem."""
    problems: list[tuple[tuple, str]] = []
    for name, scale in q.scales.items():
        for loc, code in _repeated_codes((("options", scale.options), ("missing", scale.missing))):
            problems.append((("scales", name) + loc, f"scale '{name}' uses code {code} twice"))
    seen_items: dict[str, tuple] = {}
    seen_sections: set[str] = set()
    order: dict[str, int] = {}
    position = 0
    for s_index, section in enumerate(q.sections):
        if section.id in seen_sections:
            problems.append((("sections", s_index, "id"), f"duplicate section id '{section.id}'"))
        seen_sections.add(section.id)
        for i_index, item in enumerate(section.items):
            loc = ("sections", s_index, "items", i_index)
            if item.id in seen_items:
                problems.append((loc + ("id",), f"duplicate item id '{item.id}'"))
            seen_items[item.id] = loc
            order[item.id] = position
            position += 1
            problems.extend(_check_item(q, item, loc))
    for s_index, section in enumerate(q.sections):
        for i_index, item in enumerate(section.items):
            if item.show_if is None:
                continue
            loc = ("sections", s_index, "items", i_index, "show_if")
            target = item.show_if.item
            if target not in order:
                problems.append((loc, f"show_if on unknown item '{target}'"))
            elif order[target] >= order[item.id]:
                problems.append((loc, f"show_if on '{target}', which is not an earlier item"))
            else:
                source = q.item(target)
                codes = item.show_if.codes()
                if source.type == "info":
                    problems.append((loc, f"show_if on '{target}', an information block that is never answered"))
                    continue
                if codes is not None:
                    if source.type not in ("scale", "single", "multiple"):
                        problems.append((loc, f"show_if compares codes, but '{target}' is a {source.type} item"))
                    else:
                        known = set(q.substantive_codes(source) + q.missing_codes(source))
                        for code in codes:
                            if code not in known:
                                problems.append((loc, f"show_if: '{target}' has no option with code {code}"))
    if q.groups:
        for item_id, loc in seen_items.items():
            for group in q.item(item_id).groups or []:
                if group not in q.groups:
                    problems.append((loc + ("groups",), f"item '{item_id}' names group '{group}', which is not in groups {q.groups}"))
    for kind, entries in (("indices", q.indices), ("scores", q.scores)):
        ids: set[str] = set()
        for e_index, entry in enumerate(entries):
            loc = (kind, e_index)
            if entry.id in ids:
                problems.append((loc + ("id",), f"duplicate {kind[:-1] if kind == 'scores' else 'index'} id '{entry.id}'"))
            ids.add(entry.id)
            for n, item_id in enumerate(entry.items):
                if item_id in entry.items[:n]:
                    problems.append(((kind, e_index, "items", n), f"{entry.id}: item '{item_id}' is listed twice"))
                    continue
                if item_id not in seen_items:
                    problems.append(((kind, e_index, "items", n), f"{entry.id}: unknown item '{item_id}'"))
                    continue
                item = q.item(item_id)
                if item.type not in ("scale", "single", "number"):
                    problems.append(((kind, e_index, "items", n), f"{entry.id}: item '{item_id}' is a {_type_name(item.type)} item and cannot enter "
                                                                           f"{'an index' if kind == 'indices' else 'a score'}"))
    return problems


def _repeated_codes(lists) -> list[tuple[tuple, int]]:
    """(location of the repeat, code) for each option whose code appeared earlier in the lists."""
    seen, repeats = set(), []
    for field, options in lists:
        for index, option in enumerate(options):
            if option.code in seen:
                repeats.append(((field, index, "code"), option.code))
            seen.add(option.code)
    return repeats


def _type_name(item_type: str) -> str:
    return {"text": "free-text", "info": "information", "multiple": "multiple-choice", "date": "date"}.get(item_type, item_type)


def _check_item(q: Questionnaire, item: Item, loc: tuple) -> list[tuple[tuple, str]]:
    problems = []
    if item.scale is not None and item.scale not in q.scales:
        problems.append((loc + ("scale",), f"item '{item.id}': unknown scale '{item.scale}'"))
        return problems
    if item.type == "scale" and item.scale is None:
        problems.append((loc, f"item '{item.id}': a scale item needs `scale`"))
    if item.type in ("single", "multiple") and not (item.options or item.scale):
        problems.append((loc, f"item '{item.id}': a {item.type}-choice item needs `options` or `scale`"))
    if item.type in ("single", "multiple") and item.options:
        for where, code in _repeated_codes((("options", item.options), ("missing", item.missing or []))):
            problems.append((loc + where, f"item '{item.id}' uses code {code} twice"))
    if item.type not in ("scale", "single", "multiple") and (item.options or item.scale):
        problems.append((loc, f"item '{item.id}': a {item.type} item takes no options or scale"))
    if item.min is not None and item.max is not None and item.min > item.max:
        problems.append((loc + ("min",), f"item '{item.id}': min is above max"))
    if (item.min is not None or item.max is not None) and item.type != "number":
        problems.append((loc, f"item '{item.id}': min/max only apply to number items"))
    if item.reverse and item.type not in ("scale", "single"):
        problems.append((loc + ("reverse",), f"item '{item.id}': only scale or single-choice items can be reverse-keyed"))
    if item.type == "info" and item.required:
        problems.append((loc + ("required",), f"item '{item.id}': an information block cannot be required"))
    return problems


def json_schema() -> dict:
    """The JSON Schema editors use to autocomplete and validate questionnaire YAML."""
    schema = Questionnaire.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "surveyapp-questionnaire.schema.json"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
