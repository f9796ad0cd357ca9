"""Reading case files: YAML -> validated, frozen `Case` objects, or one clear error line.

Order of work for a file: refuse it above `MAX_FILE_BYTES` unread, parse the YAML
(`harness.safe_yaml`: bounded depth and alias expansion; duplicate keys are errors; `1e-3` is a
float as in YAML 1.2), validate the top level, merge file-level `defaults:` into each case, expand
`sweep:` into one case per combination (counted first: at most `MAX_CASES_PER_FILE` cases and
`MAX_VALUES` values per file), validate each case's fields (`harness.schema`), then apply the
rules that tie fields together, check the case's estimated cost against the `Limits` (before
any array is drawn), and build the `Case`. A malformed file is never run; every
case of every file is checked, and all the problems found (up to `ERROR_LIMIT`) are raised at
once as one `CaseFileError`. What breaks a whole file (YAML that does not parse, no `cases:`
list, bad `defaults:`) stops that file only.
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic

from harness import safe_yaml
from harness.builder import CaseError, build_case
from harness.case import Case
from harness.limits import DEFAULT_LIMITS, MAX_CASES_PER_FILE, MAX_FILE_BYTES, MAX_VALUES, Limits
from harness.schema import CASE_KEYS, CaseFileModel, RawCase, short_repr

NOT_CASE_FILES = frozenset({"known_discrepancies.yaml"})
ERROR_LIMIT = 20  # problems listed at once; the rest are counted
SweepSpec = dict[str, list[Any]] | list[dict[str, list[Any]]]
_sweep_adapter = pydantic.TypeAdapter(SweepSpec)


class CaseFileError(Exception):
    """A malformed case file; `str()` is what the command line prints.

    One problem is one line naming the file, the case and the field. Several (`combine`) are a
    summary line, `N errors in FILE`, then one such line per problem; the attributes (`file`,
    `message`, `case_id`, `field`, `line`) are the first problem's, `errors` lists them all.
    """

    def __init__(
        self, file: str, message: str, *, case_id: str | None = None, field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file, self.message, self.case_id, self.field, self.line = file, message, case_id, field, line
        self.errors: list[CaseFileError] = [self]
        self.total = 1
        parts = [file if line is None else f"{file}: line {line}"]
        if case_id is not None:
            parts.append(f"case {short_repr(case_id)}")
        if field is not None:
            parts.append(f"field {short_repr(field)}")
        super().__init__(": ".join(parts + [message]))

    @classmethod
    def combine(cls, errors: list["CaseFileError"], total: int | None = None) -> "CaseFileError":
        """One error standing for several (`total` counts those beyond the listed ones)."""
        flat = [e for error in errors for e in error.errors]
        total = max(total or 0, sum(e.total for e in errors), len(flat))
        if total == 1:
            return flat[0]
        first = flat[0]
        combined = cls(first.file, first.message, case_id=first.case_id, field=first.field, line=first.line)
        combined.errors, combined.total = flat, total
        files = list(dict.fromkeys(e.file for e in flat))
        where = files[0] if len(files) == 1 else f"{len(files)} case files"
        lines = [f"{total} errors in {where} (nothing was run; fix them all, then run again):"]
        lines += [f"  {Exception.__str__(e)}" for e in flat]
        if total > len(flat):
            lines.append(f"  ... and {total - len(flat)} more (only the first {len(flat)} are listed)")
        combined.args = ("\n".join(lines),)
        return combined


_UNION_TAG = re.compile(r"^(list\[.*\]|dict\[.*\]|constrained-\w+|int|float|str|bool|function-.*|GeneratedArray)$")
_TYPE_ERRORS = {"int_type", "float_type", "string_type", "list_type", "dict_type", "model_type", "bool_type",
                "int_parsing", "float_parsing", "literal_error", "model_attributes_type"}


def _pydantic_problem(error: pydantic.ValidationError) -> tuple[str, str]:
    """The most telling error of a validation as (field path, short message).

    A union (`stride: 2` or `stride: [2, 1]`) reports one error per member; the one that is not
    merely "wrong type", and the deepest, says what is wrong with what the user wrote.
    """
    errors = error.errors(include_url=False)
    first = min(errors, key=lambda e: (e["type"] in _TYPE_ERRORS and len(errors) > 1, -len(e["loc"])))
    loc = [str(p) for p in first["loc"] if not _UNION_TAG.match(str(p))]
    field = ".".join(loc) if loc else "(case)"
    message = first["msg"].removeprefix("Value error, ")
    ctx = first.get("ctx", {})
    if first["type"] == "extra_forbidden":
        message = "unknown key"
        close = difflib.get_close_matches(loc[-1] if loc else "", sorted(CASE_KEYS), 1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif first["type"] == "missing":
        message = "missing (required)"
    elif first["type"] in ("greater_than", "greater_than_equal"):
        bound = ctx.get("gt", ctx.get("ge"))
        message = f"must be {'>' if 'gt' in ctx else '>='} {bound} (got {short_repr(first.get('input'))})"
    elif first["type"] == "finite_number":
        message = f"must be a finite number (got {short_repr(first.get('input'))})"
    elif first["type"] in ("less_than", "less_than_equal"):
        bound = ctx.get("lt", ctx.get("le"))
        message = f"must be {'<' if 'lt' in ctx else '<='} {bound:,} (got {short_repr(first.get('input'))})"
    return field, message


def _sweep_label(value: Any) -> str:
    """A sweep value as it appears in a generated id: `2`, `same`, `3x2`."""
    if isinstance(value, list):
        return "x".join(_sweep_label(v) for v in value)
    return str(value).lower() if isinstance(value, str) else str(value)


class _OverBudget(CaseFileError):
    """A file over `MAX_CASES_PER_FILE`: reported alone, and the rest of the file is not looked at."""


def _sweep_grids(raw: dict[str, Any], file: str) -> list[dict[str, list[Any]]]:
    """The checked grids of a case's `sweep:` (none without one): each maps case keys to values."""
    if "sweep" not in raw:
        return []
    case_id = str(raw.get("id", "?"))
    try:
        spec = _sweep_adapter.validate_python(raw["sweep"])
    except pydantic.ValidationError as error:
        raise CaseFileError(file, "must map case keys to lists of values (or be a list of such maps)",
                            case_id=case_id, field="sweep") from error
    grids = spec if isinstance(spec, list) else [spec]
    if not grids or not all(grids):
        # An empty sweep used to make no case at all (or the case unswept): say so instead.
        raise CaseFileError(file, "needs at least one key with values, e.g. `sweep: {stride: [1, 2]}` "
                                  "(or leave `sweep:` out)", case_id=case_id, field="sweep")
    for grid in grids:
        for key, values in grid.items():
            if key not in CASE_KEYS or key == "id":
                raise CaseFileError(file, "not a case key that can be swept", case_id=case_id,
                                    field=f"sweep.{key}")
            if not values:
                raise CaseFileError(file, "needs at least one value", case_id=case_id,
                                    field=f"sweep.{key}")
    return grids


def _expand_sweep(raw: dict[str, Any], file: str, *, room: int = MAX_CASES_PER_FILE) -> list[dict[str, Any]]:
    """One raw case per combination of the `sweep:` values, ids `base/key=value,key=value`.

    The combinations are counted before any is made: more than `room` (what is left of
    `MAX_CASES_PER_FILE`) is an error, so `sweep: {seed: [...1000 values], ...}` cannot make a
    million cases.
    """
    grids = _sweep_grids(raw, file)
    count = sum(math.prod(len(values) for values in grid.values()) for grid in grids) if grids else 1
    case_id = str(raw.get("id", "?"))
    if count > room:
        made = MAX_CASES_PER_FILE - room
        before = f" (with the {made:,} before it)" if made else ""
        what = f"the sweep makes {count:,} cases" if grids else "one more case"
        raise _OverBudget(file, f"{what}{before}: over {MAX_CASES_PER_FILE:,} cases per file; sweep fewer "
                                "values or split the file", case_id=case_id, field="sweep" if grids else None)
    if not grids:
        return [raw]
    base = {k: v for k, v in raw.items() if k != "sweep"}
    cases = []
    for grid in grids:
        for combo in itertools.product(*grid.values()):
            chosen = dict(zip(grid, combo))
            label = ",".join(f"{k}={_sweep_label(v)}" for k, v in chosen.items())
            cases.append({**base, **chosen, "id": f"{case_id}/{label}"})
    return cases


_CONTAINERS = (dict, list, tuple, set)


def value_count(value: Any, *, stop: int = MAX_VALUES + 1) -> int:
    """How many values (numbers, strings, lists, mappings, keys) `value` holds, expanded: a list
    reached twice (a YAML alias) counts twice. Iterative; stops counting past `stop`."""
    if not isinstance(value, _CONTAINERS):
        return 1
    count, stack = 1, [value]
    while stack and count < stop:
        item = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        count += 2 * len(item) if isinstance(item, dict) else len(item)
        stack.extend([c for c in children if isinstance(c, _CONTAINERS)])
    return count


class _FileBudget:
    """What a file's cases may add up to: `MAX_VALUES` values once `defaults:` and sweeps are
    expanded (each case validates its own copy), and `MAX_CASES_PER_FILE` cases."""

    def __init__(self) -> None:
        self.cases = self.values = 0
        self._counts: dict[int, int] = {}  # by id(): a value shared by many cases is counted once

    def room(self) -> int:
        return MAX_CASES_PER_FILE - self.cases

    def take(self, raw: dict[str, Any]) -> str | None:
        """Count one expanded case; a message when the file is over its values budget."""
        self.cases += 1
        for value in raw.values():
            if id(value) not in self._counts:
                self._counts[id(value)] = value_count(value)
            self.values += 1 + self._counts[id(value)]
        if self.values > MAX_VALUES:
            return (f"the cases up to this one hold more than {MAX_VALUES:,} values once `defaults:` and sweeps are "
                    "expanded (each case gets its own copy), over the limit for a file; draw large arrays "
                    "({shape, seed}) instead of writing them out, sweep fewer values, or split the file")
        return None


def parse_text(
    text: str, name: str, *, where: str | None = None, limits: Limits = DEFAULT_LIMITS, held_before: int = 0,
) -> list[Case]:
    """Validate the text of one case file and build its cases.

    `name` is the file's display name (the cases' `file`); errors name it as `where`, the path
    the user gave, when that is known. `limits` bounds each case's estimated cost; `held_before`
    is what the cases loaded before this file keep in memory (it counts against `max_memory`).
    """
    file = where or name
    try:
        data = safe_yaml.load(text)
    except safe_yaml.YamlProblem as problem_:
        raise CaseFileError(file, problem_.message, line=problem_.line) from None
    if not isinstance(data, dict):
        raise CaseFileError(file, "the file must be a mapping with a 'cases:' list", field="cases")
    try:
        top = CaseFileModel.model_validate(data)
    except pydantic.ValidationError as error:
        field, message = _pydantic_problem(error)
        raise CaseFileError(file, message, field=field) from None
    unknown = sorted(set(top.defaults) - CASE_KEYS) or sorted({"id", "expected"} & set(top.defaults))
    if unknown:
        raise CaseFileError(file, "not a key that defaults can set", field=f"defaults.{unknown[0]}")

    # First every entry is expanded and counted, nothing built: a file over its budget (cases,
    # values) is refused before any case is validated, so it costs only its reading.
    budget = _FileBudget()
    planned: list[tuple[int, list[dict[str, Any]] | CaseFileError]] = []
    for index, entry in enumerate(top.cases):
        try:
            raws = _expand_sweep({**top.defaults, **entry}, file, room=budget.room())
        except _OverBudget:
            raise
        except CaseFileError as error:
            planned.append((index, error))
            continue
        for raw in raws:
            over = budget.take(raw)
            if over is not None:
                raise CaseFileError(file, over, case_id=str(raw.get("id", f"#{index + 1}")))
        planned.append((index, raws))

    cases: list[Case] = []
    errors: list[CaseFileError] = []
    total = 0
    held = held_before

    def problem(error: CaseFileError) -> None:
        nonlocal total
        total += 1
        if len(errors) < ERROR_LIMIT:
            errors.append(error)

    seen: set[str] = set()
    for index, expanded in planned:
        if isinstance(expanded, CaseFileError):
            problem(expanded)
            continue
        for raw in expanded:
            if "id" not in raw:
                problem(CaseFileError(file, "missing (required)", case_id=f"#{index + 1}", field="id"))
                continue
            case_id = str(raw["id"])
            if case_id in seen:
                problem(CaseFileError(file, "duplicate id in this file", case_id=case_id, field="id"))
                continue
            seen.add(case_id)
            try:
                case = case_from_mapping(raw, file=name, limits=limits, held_before=held)
            except CaseFileError as error:
                problem(CaseFileError(file, error.message, case_id=error.case_id, field=error.field))
                continue
            held += held_bytes(case)
            cases.append(case)
    if errors:
        raise CaseFileError.combine(errors, total)
    return cases


def held_bytes(case: Case) -> int:
    """The bytes of the arrays a `Case` keeps for the whole run."""
    arrays = (case.input, case.kernel, case.bias, case.upstream, case.expected)
    return sum(a.nbytes for a in arrays if a is not None)


def case_files(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Every case file under the given files and folders, once each, with its display name: its
    path relative to the common root of the folders given and the folders of the files given.

    So `tconv run cases` and `tconv run cases/seeds.yaml` both say `seeds.yaml`, `tconv run
    cases/seeds.yaml cases/found` says `seeds.yaml` and `found/...` as `tconv run cases` does, and
    `a/x.yaml` and `b/x.yaml` stay two files (`a/x.yaml`, `b/x.yaml`), never one.
    """
    entries: list[tuple[Path, Path]] = []  # (file, the folder its name is relative to)
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]):
                if file.name not in NOT_CASE_FILES:
                    entries.append((file, path))
        elif path.exists():
            entries.append((path, path.parent))
        else:
            raise CaseFileError(str(path), "no such file or folder")
    if not entries:
        return []
    root = Path(os.path.commonpath([str(base.resolve()) for _, base in entries]))
    found: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for file, _ in entries:
        real = file.resolve()
        if real not in seen:  # the same file given twice (or through a folder and by name) runs once
            seen.add(real)
            found.append((file, real.relative_to(root).as_posix()))
    return found


def load_cases(paths: Iterable[str | Path], *, limits: Limits = DEFAULT_LIMITS) -> list[Case]:
    """Load and validate every case under `paths`; raises one `CaseFileError` listing every
    problem of every file (up to `ERROR_LIMIT`, the rest counted). A file over `MAX_FILE_BYTES`
    is refused unread; each case is checked against `limits` (with the arrays of the cases
    loaded before it) before any of its arrays is drawn."""
    cases: list[Case] = []
    errors: list[CaseFileError] = []
    held = 0
    for path, name in case_files(paths):
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise CaseFileError(str(path), safe_yaml.too_large(size))
            text = path.read_text(encoding="utf-8")
            loaded = parse_text(text, name, where=str(path), limits=limits, held_before=held)
        except (OSError, UnicodeDecodeError) as error:
            errors.append(CaseFileError(str(path), f"cannot read: {error}"))
            continue
        except CaseFileError as error:
            errors.append(error)
            continue
        held += sum(held_bytes(case) for case in loaded)
        cases.extend(loaded)
    if errors:
        listed = [e for error in errors for e in error.errors][:ERROR_LIMIT]
        raise CaseFileError.combine(listed, sum(e.total for e in errors))
    return cases


def case_from_mapping(
    mapping: dict[str, Any], *, file: str = "<memory>", limits: Limits = DEFAULT_LIMITS, held_before: int = 0,
) -> Case:
    """Validate and build one case from a mapping (what a YAML entry holds), without sweeps.

    The case's estimated cost (`harness.limits.estimate`), plus `held_before` bytes of arrays
    already loaded, must fit `limits`; it is checked before any array is drawn."""
    case_id = str(mapping.get("id", "?"))
    try:
        return build_case(RawCase.model_validate(mapping), file, limits=limits, held_before=held_before)
    except pydantic.ValidationError as error:
        field, message = _pydantic_problem(error)
        raise CaseFileError(file, message, case_id=case_id, field=field) from None
    except CaseError as error:
        raise CaseFileError(file, error.message, case_id=case_id, field=error.field) from None
