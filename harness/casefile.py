"""Reading case files: YAML -> validated, frozen `Case` objects, or one clear error line.

Order of work for a file: parse the YAML (duplicate keys are errors; `1e-3` is a float as in
YAML 1.2), validate the top level, merge file-level `defaults:` into each case, expand `sweep:`
into one case per combination, validate each case's fields (`harness.schema`), then apply the
rules that tie fields together and build the `Case`. A malformed file is never run; every
case of every file is checked, and all the problems found (up to `ERROR_LIMIT`) are raised at
once as one `CaseFileError`. What breaks a whole file (YAML that does not parse, no `cases:`
list, bad `defaults:`) stops that file only.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic
import yaml

from harness.builder import CaseError, build_case
from harness.case import Case
from harness.schema import CASE_KEYS, CaseFileModel, RawCase

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
            parts.append(f"case {case_id!r}")
        if field is not None:
            parts.append(f"field {field!r}")
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


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads `1e-3` as a float."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


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
        message = f"must be {'>' if 'gt' in ctx else '>='} {bound} (got {first.get('input')!r})"
    return field, message


def _sweep_label(value: Any) -> str:
    """A sweep value as it appears in a generated id: `2`, `same`, `3x2`."""
    if isinstance(value, list):
        return "x".join(_sweep_label(v) for v in value)
    return str(value).lower() if isinstance(value, str) else str(value)


def _expand_sweep(raw: dict[str, Any], file: str) -> list[dict[str, Any]]:
    """One raw case per combination of the `sweep:` values, ids `base/key=value,key=value`."""
    if "sweep" not in raw:
        return [raw]
    base = {k: v for k, v in raw.items() if k != "sweep"}
    case_id = str(base.get("id", "?"))
    try:
        spec = _sweep_adapter.validate_python(raw["sweep"])
    except pydantic.ValidationError as error:
        raise CaseFileError(file, "must map case keys to lists of values (or be a list of such maps)",
                            case_id=case_id, field="sweep") from error
    grids = spec if isinstance(spec, list) else [spec]
    cases = []
    for grid in grids:
        for key, values in grid.items():
            if key not in CASE_KEYS or key == "id":
                raise CaseFileError(file, "not a case key that can be swept", case_id=case_id,
                                    field=f"sweep.{key}")
            if not values:
                raise CaseFileError(file, "needs at least one value", case_id=case_id,
                                    field=f"sweep.{key}")
        for combo in itertools.product(*grid.values()):
            chosen = dict(zip(grid, combo))
            label = ",".join(f"{k}={_sweep_label(v)}" for k, v in chosen.items())
            cases.append({**base, **chosen, "id": f"{case_id}/{label}" if label else case_id})
    return cases


def parse_text(text: str, name: str, *, where: str | None = None) -> list[Case]:
    """Validate the text of one case file and build its cases.

    `name` is the file's display name (the cases' `file`); errors name it as `where`, the path
    the user gave, when that is known.
    """
    file = where or name
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CaseFileError(file, f"YAML syntax error: {problem}",
                            line=None if mark is None else mark.line + 1) from None
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

    cases: list[Case] = []
    errors: list[CaseFileError] = []
    total = 0

    def problem(error: CaseFileError) -> None:
        nonlocal total
        total += 1
        if len(errors) < ERROR_LIMIT:
            errors.append(error)

    seen: set[str] = set()
    for index, entry in enumerate(top.cases):
        try:
            raws = _expand_sweep({**top.defaults, **entry}, file)
        except CaseFileError as error:
            problem(error)
            continue
        for raw in raws:
            if "id" not in raw:
                problem(CaseFileError(file, "missing (required)", case_id=f"#{index + 1}", field="id"))
                continue
            case_id = str(raw["id"])
            if case_id in seen:
                problem(CaseFileError(file, "duplicate id in this file", case_id=case_id, field="id"))
                continue
            seen.add(case_id)
            try:
                case = case_from_mapping(raw, file=name)
            except CaseFileError as error:
                problem(CaseFileError(file, error.message, case_id=error.case_id, field=error.field))
                continue
            cases.append(case)
    if errors:
        raise CaseFileError.combine(errors, total)
    return cases


def case_files(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Every case file under the given files and folders, with its display name.

    A file given directly shows as its name; a file found in a folder shows relative to that
    folder (so `tconv run cases` and `tconv run cases/seeds.yaml` both say `seeds.yaml`).
    """
    found: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]):
                if file.name not in NOT_CASE_FILES:
                    found.append((file, file.relative_to(path).as_posix()))
        elif path.exists():
            found.append((path, path.name))
        else:
            raise CaseFileError(str(path), "no such file or folder")
    return found


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    """Load and validate every case under `paths`; raises one `CaseFileError` listing every
    problem of every file (up to `ERROR_LIMIT`, the rest counted)."""
    cases: list[Case] = []
    errors: list[CaseFileError] = []
    for path, name in case_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
            cases.extend(parse_text(text, name, where=str(path)))
        except (OSError, UnicodeDecodeError) as error:
            errors.append(CaseFileError(str(path), f"cannot read: {error}"))
        except CaseFileError as error:
            errors.append(error)
    if errors:
        listed = [e for error in errors for e in error.errors][:ERROR_LIMIT]
        raise CaseFileError.combine(listed, sum(e.total for e in errors))
    return cases


def case_from_mapping(mapping: dict[str, Any], *, file: str = "<memory>") -> Case:
    """Validate and build one case from a mapping (what a YAML entry holds), without sweeps."""
    case_id = str(mapping.get("id", "?"))
    try:
        return build_case(RawCase.model_validate(mapping), file)
    except pydantic.ValidationError as error:
        field, message = _pydantic_problem(error)
        raise CaseFileError(file, message, case_id=case_id, field=field) from None
    except CaseError as error:
        raise CaseFileError(file, error.message, case_id=case_id, field=error.field) from None
