"""Known discrepancies: one table, `cases/known_discrepancies.yaml`, and its bookkeeping.

An entry names rows by a case pattern (`fnmatch` over `file::id`, default all), an adapter
pattern, the framework versions it applies to (a PEP 440 specifier such as `>=2.16,<2.19`;
empty means all), `when`, conditions on the case's parameters (the report's columns:
`dtype: float16`, `groups: ">1"`, `padding_kind: explicit`), and `message`, a glob the row's
message must match (a framework's own error text), so an entry describes the mechanism of a
discrepancy and covers every case that has it, not a list of ids.
On a matching version a `fail` or `error` becomes `xfail`; a pass becomes `xpass` (the entry no
longer describes the framework) unless the entry is `strict: false`, for discrepancies that show
only on some data (precision), where it stays `pass`. A strict entry that covered rows of a run
(its adapter, versions, cases and conditions all matched) but explained none of them failing is
stale, and the run's summary says so: the table must not rot. (An entry whose rows a run did not
include, a subset of the cases or another framework version, says nothing either way; a
non-strict entry's rows may pass on other data, so its reproducer is what keeps it honest:
`tests/test_repro.py` fails when a reproducer stops reproducing on a matching version.)
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from harness.safe_yaml import error_line, error_problem

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "cases" / "known_discrepancies.yaml"


class Discrepancy(BaseModel):
    """One known disagreement between a framework and the canonical definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str = "*"
    adapter: str
    versions: str = ""
    when: dict[str, str | int] = {}
    message: str = "*"
    reason: str
    kind: Literal["bug", "limitation", "precision", "convention"] = "bug"
    strict: bool = True
    link: str | None = None
    reproducer: str | None = None

    @field_validator("versions")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier as error:
            raise ValueError(f"not a version specifier: {value!r}") from error
        return value

    @model_validator(mode="after")
    def _traceable(self) -> "Discrepancy":
        if not (self.link or self.reproducer):
            raise ValueError("an entry needs a link or a reproducer")
        return self

    @field_validator("when")
    @classmethod
    def _conditions(cls, value: dict[str, str | int]) -> dict[str, str | int]:
        for key, condition in value.items():
            _condition_holds(str(condition), "0")  # raises on a malformed comparison
            if not key.isidentifier():
                raise ValueError(f"not a parameter name: {key!r}")
        return value

    def applies_to(self, case_full_id: str, adapter: str, version: str,
                   params: dict[str, str] | None = None, message: str = "", *, lost: bool = False) -> bool:
        """Whether the entry covers this case (and its parameters), adapter, version and message. A lost
        job's row (a crash, a timeout) is covered only by an entry that names its message: one about
        every message (`*`) speaks of the answer or the refusal of a job that finished."""
        if not (fnmatch.fnmatchcase(case_full_id, self.case) and fnmatch.fnmatchcase(adapter, self.adapter)):
            return False
        if self.message == "*":
            if lost:
                return False
        elif not fnmatch.fnmatchcase(message, self.message):
            return False
        for key, condition in self.when.items():
            if params is None or key not in params or not _condition_holds(str(condition), params[key]):
                return False
        if "check" not in self.when and params is not None and params.get("check", "forward") != "forward":
            return False  # an entry is about the forward result unless it names the checks it covers
        if not self.versions:
            return True
        try:
            return Version(version) in SpecifierSet(self.versions)
        except InvalidVersion:
            return False

    @property
    def label(self) -> str:
        when = ", ".join(f"{k} {v}" for k, v in self.when.items())
        return f"{self.case} [{self.adapter}] {self.versions or 'all versions'}" + (f" when {when}" if when else "")

    @property
    def reference(self) -> str:
        return self.link or self.reproducer or ""

    @property
    def known_issue(self) -> str:
        """What a row this entry labels says in its `known_issue` column."""
        return f"{self.reason} ({self.reference})"


_COMPARISONS = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, "==": lambda a, b: a == b,
}


def _condition_holds(condition: str, value: str) -> bool:
    """`">1"`, `"<=3"`, `"!=1"` compare numbers; `"same*"` is a glob; anything else an exact
    (case-insensitive) match."""
    for operator, compare in _COMPARISONS.items():
        if condition.startswith(operator):
            bound = float(condition[len(operator):])  # a malformed bound raises ValueError
            try:
                return bool(compare(float(value), bound))
            except ValueError:
                return False
    return fnmatch.fnmatchcase(str(value).strip().lower(), condition.strip().lower())


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")
    discrepancies: list[Discrepancy] = []


@dataclass
class KnownDiscrepancies:
    """The table plus which entries matched rows during a run."""

    entries: list[Discrepancy]
    used: set[int] = field(default_factory=set)
    exercised: set[int] = field(default_factory=set)
    _by_adapter: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def lookup(self, case_full_id: str, adapter: str, version: str, params: dict[str, str] | None = None,
               *, failed: bool = True, message: str = "", lost: bool = False) -> Discrepancy | None:
        """The first entry covering this row; a failing row marks it used (not stale)."""
        for index in self._for_adapter(adapter):
            entry = self.entries[index]
            if entry.applies_to(case_full_id, adapter, version, params, message, lost=lost):
                self.exercised.add(index)
                if failed:
                    self.used.add(index)
                return entry
        return None

    def _for_adapter(self, adapter: str) -> list[int]:
        """The indices of the entries whose adapter pattern names this adapter, in table order: a run
        asks once per row, and most of the table is about other adapters (a matrix asks ~20,000 times).
        Kept per adapter: `entries` is the table as loaded, never changed after a lookup."""
        if adapter not in self._by_adapter:
            self._by_adapter[adapter] = [index for index, entry in enumerate(self.entries)
                                         if fnmatch.fnmatchcase(adapter, entry.adapter)]
        return self._by_adapter[adapter]

    def stale(self) -> list[Discrepancy]:
        """Strict entries that covered rows of the run but explained none of them failing."""
        return [e for i, e in enumerate(self.entries) if e.strict and i in self.exercised and i not in self.used]


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same data as `yaml.safe_load`, faster


def _syntax_error(path: Path, error: yaml.YAMLError) -> str:
    """`path: line N: YAML syntax error: what`, one line (a usage error's words), read as case files' are."""
    line = error_line(error)
    return f"{path}: {'' if line is None else f'line {line}: '}YAML syntax error: {error_problem(error)}"


def load_discrepancies(path: str | Path | None = None) -> KnownDiscrepancies:
    """Read and validate the table; a missing file is an empty table."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    if not path.exists():
        return KnownDiscrepancies([])
    try:  # libyaml's safe loader where PyYAML has it: every run and every pytest worker reads the table
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or {}
    except yaml.YAMLError as error:
        raise ValueError(_syntax_error(path, error)) from None
    try:
        return KnownDiscrepancies(_Table.model_validate(data).discrepancies)
    except pydantic.ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
