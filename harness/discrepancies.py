"""Known discrepancies: one table, `cases/known_discrepancies.yaml`, and its bookkeeping.

An entry names rows by a case pattern (`fnmatch` over `file::id`), an adapter pattern and the
framework versions it applies to (a PEP 440 specifier such as `>=2.16,<2.19`; empty means all).
On a matching version a `fail` or `error` becomes `xfail`, and a pass becomes `xpass` (the
entry no longer describes the framework). An entry that matches no row of a run that exercised
its adapter is stale, and the run's summary says so: the table must not rot.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import pydantic
import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "cases" / "known_discrepancies.yaml"


class Discrepancy(BaseModel):
    """One known disagreement between a framework and the canonical definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str
    adapter: str
    versions: str = ""
    reason: str
    kind: str = "bug"  # "bug" (the framework is wrong) or "convention"/"limitation"
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

    def applies_to(self, case_full_id: str, adapter: str, version: str) -> bool:
        """Whether the entry covers this case, adapter and framework version."""
        if not (fnmatch.fnmatchcase(case_full_id, self.case) and fnmatch.fnmatchcase(adapter, self.adapter)):
            return False
        if not self.versions:
            return True
        try:
            return Version(version) in SpecifierSet(self.versions)
        except InvalidVersion:
            return False

    @property
    def label(self) -> str:
        return f"{self.case} [{self.adapter}] {self.versions or 'all versions'}"

    @property
    def reference(self) -> str:
        return self.link or self.reproducer or ""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")
    discrepancies: list[Discrepancy] = []


@dataclass
class KnownDiscrepancies:
    """The table plus which entries matched rows during a run."""

    entries: list[Discrepancy]
    used: set[int] = field(default_factory=set)
    exercised: set[int] = field(default_factory=set)

    def lookup(self, case_full_id: str, adapter: str, version: str) -> Discrepancy | None:
        """The first entry covering this row, remembering that it was used."""
        for index, entry in enumerate(self.entries):
            if fnmatch.fnmatchcase(adapter, entry.adapter):
                self.exercised.add(index)
            if entry.applies_to(case_full_id, adapter, version):
                self.used.add(index)
                return entry
        return None

    def stale(self) -> list[Discrepancy]:
        """Entries whose adapter ran but that matched no row."""
        return [e for i, e in enumerate(self.entries) if i in self.exercised and i not in self.used]


def load_discrepancies(path: str | Path | None = None) -> KnownDiscrepancies:
    """Read and validate the table; a missing file is an empty table."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    if not path.exists():
        return KnownDiscrepancies([])
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return KnownDiscrepancies(_Table.model_validate(data).discrepancies)
    except pydantic.ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"]))
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
