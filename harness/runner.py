"""The one runner: cases x adapters -> plain result rows.

pytest, the command line and the reports all consume these rows. A row never raises: an
exception inside a framework is an `error` row with the exception's message, and the run goes
on. Statuses: `pass`, `fail`, `error`, `unsupported`, `xfail`, `xpass`.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from adapters.base import Adapter, import_first
from harness.case import Case, content_key
from harness import machine
from harness.diagnosis import diagnose
from harness.discrepancies import KnownDiscrepancies
from harness.dtypes import round_to
from harness.judge import (Reference, Verdict, flushed_gradient_references, gradient_reference, judge, judge_case,
                           reference_for)
from harness.model_cache import raised_in

STATUSES = ("pass", "fail", "error", "unsupported", "xfail", "xpass")
ORACLE = "oracle"


@dataclass
class Row:
    """One case run by one adapter (or the oracle against the case's golden values)."""

    case_file: str
    case_id: str
    adapter: str
    framework: str
    framework_version: str
    status: str
    max_abs_err: float = float("nan")
    max_rel_err: float = float("nan")
    tol_ratio: float = float("nan")
    worst_index: str = ""
    expected_value: float = float("nan")
    actual_value: float = float("nan")
    expected_shape: str = ""
    actual_shape: str = ""
    time_ms: float = float("nan")
    device: str = "cpu"
    path: str = ""  # the framework's kernel family on this machine (adapters.base.Adapter.path)
    sent: str = ""  # the framework-side parameters the adapter sent (Adapter.sent), `key=value; ...`
    route: str = ""  # '' for a native runtime; the conversion path otherwise (Adapter.route)
    message: str = ""
    diagnosis: str = ""
    known_issue: str = ""
    check: str = "forward"  # what was judged: the forward result or one gradient (harness.gradients)
    params: dict[str, str] = field(default_factory=dict)
    plot: dict[str, object] | None = field(default=None, repr=False)  # arrays for the HTML page
    sent_map: dict[str, str] = field(default_factory=dict, repr=False)  # `sent` as a mapping, for labels
    set_aside: tuple[str, ...] = field(default=(), repr=False)  # named NaNs beside the message's error (judge)
    lost: bool = field(default=False, repr=False)  # the job was lost (crash, timeout, exit): `failed_rows`

    @property
    def full_id(self) -> str:
        suffix = "" if self.check == "forward" else f":{self.check}"
        return f"{self.case_file}::{self.case_id}[{self.adapter}{suffix}]"

    def bug_report(self) -> str:
        """A failure message that can be pasted into a framework's issue tracker."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items() if v not in ("", "no"))
        lines = [
            f"{self.full_id}: {self.status} on {self.framework} {self.framework_version} "
            f"({self.device}{', path ' + self.path if self.path else ''}; {machine.cpu_model()}; "
            f"{machine.isa_summary() or 'no AVX'})",
            f"  case: {params}",
            *([f"  sent: {self.sent}"] if self.sent else []),
            f"  shapes: expected {self.expected_shape or '?'}, actual {self.actual_shape or '?'}",
        ]
        if self.worst_index:
            lines.append(f"  max abs err {self.max_abs_err:.6g}, max rel err {self.max_rel_err:.6g}, "
                         f"{self.tol_ratio:.3g}x the tolerance")
            lines.append(f"  worst element [{self.worst_index}]: expected {self.expected_value:.8g}, "
                         f"actual {self.actual_value:.8g}")
        if self.message:
            lines.append(f"  message: {self.message}")
        lines.append(f"  diagnosis: {self.diagnosis or 'none'}")
        if self.known_issue:
            lines.append(f"  known issue: {self.known_issue}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """Flat mapping: the contract's columns first, then the case parameters (no arrays)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("params", "plot", "sent_map", "set_aside", "lost")}
        return {**data, **self.params}


class _References:
    """The oracle's answers in this process, by the case's content, up to `max_bytes` (the least
    recently used go first). Every adapter of a run is judged against the same answer: a run takes
    the adapters one after another over every case (the pytest matrix) or gets each case afresh
    through a pipe (`tconv run`'s workers), so an identity-keyed LRU of a few hundred cases missed
    on every row, and the oracle ran once per row instead of once per case."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self.kept: OrderedDict[tuple[object, ...], tuple[Reference, int]] = OrderedDict()

    def get(self, key: tuple[object, ...], compute: Callable[[], Reference]) -> Reference:
        if key in self.kept:
            self.kept.move_to_end(key)
            return self.kept[key][0]
        reference = compute()
        size = sum(v.nbytes for v in vars(reference).values() if isinstance(v, np.ndarray))
        self.kept[key] = (reference, size)
        self.size += size
        while self.size > self.max_bytes and len(self.kept) > 1:
            _, (_, dropped) = self.kept.popitem(last=False)
            self.size -= dropped
        return reference


_REFERENCES = _References(max_bytes=256 * 2**20)


def cached_reference(case: Case) -> Reference:
    """The oracle's answer for a case, computed once per process."""
    return _REFERENCES.get(("forward", *content_key(case)), lambda: reference_for(case))


def cached_gradient_reference(case: Case, check: str) -> Reference:
    """The oracle's gradient for a case, computed once per process (every adapter is judged on it)."""
    return _REFERENCES.get((check, *content_key(case)), lambda: gradient_reference(case, check))


def _shape(a: np.ndarray | tuple[int, ...] | None) -> str:
    shape = a.shape if isinstance(a, np.ndarray) else a
    return "" if shape is None else "x".join(map(str, shape))


def _apply_verdict(row: Row, verdict: Verdict) -> None:
    row.status = "pass" if verdict.passed else "fail"
    row.set_aside = verdict.set_aside
    row.max_abs_err, row.max_rel_err, row.tol_ratio = verdict.max_abs_err, verdict.max_rel_err, verdict.tol_ratio
    row.worst_index = "" if verdict.worst_index is None else ",".join(map(str, verdict.worst_index))
    row.expected_value = np.nan if verdict.expected_value is None else verdict.expected_value
    row.actual_value = np.nan if verdict.actual_value is None else verdict.actual_value
    row.message = verdict.message


def oracle_row(case: Case) -> Row | None:
    """The oracle judged against the case's golden `expected` (or `expected_shape`)."""
    if case.expected is None and case.expected_shape is None:
        return None
    row = Row(case.file, case.id, ORACLE, "numpy", np.__version__, "pass", params=case.describe())
    start = time.perf_counter()
    reference = cached_reference(case)
    row.time_ms = (time.perf_counter() - start) * 1e3
    row.actual_shape = _shape(reference.exact)
    if case.expected_shape is not None:
        row.expected_shape = _shape(case.expected_shape)
        if reference.exact.shape != case.expected_shape:
            row.status = "fail"
            row.message = f"oracle shape {row.actual_shape} != golden shape {row.expected_shape}"
            return row
    if case.expected is not None:
        row.expected_shape = _shape(case.expected)
        _apply_verdict(row, judge(round_to(reference.exact, case.dtype), case.expected, reference.tolerance))
    return row


def sent_of(case: Case, adapter: Adapter) -> dict[str, str]:
    """What the adapter says it sends for the case (`Adapter.sent`); a slip there loses no row."""
    sent = _safely(adapter.sent, case, lambda error: {"description_failed": str(error)})
    if not isinstance(sent, dict):
        sent = {"description_failed": f"sent() returned {type(sent).__name__}, not a dict"}
    return {str(k): str(v) for k, v in sent.items()}


def _described(case: Case, adapter: Adapter) -> tuple[dict[str, str], str]:
    """What the adapter says it sends and which kernel path it takes; a slip there loses no row."""
    return sent_of(case, adapter), str(_safely(adapter.path, case, lambda e: f"unknown ({e})"))


def _failure(error: BaseException, where: str = "") -> str:
    """An exception as a row's message: type, text (one line, cut) and the function it came from."""
    where_raised = raised_in(error)
    at = f" (at {where_raised})" if where_raised else ""
    text = " ".join(str(error).split())[:500]
    return f"{where}{type(error).__name__}: {text}{at}"


def as_result(value: object, what: str) -> np.ndarray:
    """What an adapter returned, as an array the judge can take, or `TypeError` saying what it was:
    the contract asks for a numeric array (a list, None, a string or an object array is a bug)."""
    if not hasattr(value, "__array__") or isinstance(value, (list, tuple, dict, str, bytes, int, float, complex)):
        raise TypeError(f"{what} returned {type(value).__name__}, not a numeric array")
    array = np.asarray(value)
    numeric = array.dtype.kind in "fiub" or array.dtype.name.startswith(("bfloat", "float"))
    if not numeric:
        raise TypeError(f"{what} returned an array of dtype {array.dtype}, not a numeric array")
    if array.ndim == 0:
        raise TypeError(f"{what} returned a 0-d array, not a (N, C_out, *spatial) result")
    return array


def guarded_oracle_row(case: Case) -> Row | None:
    """`oracle_row`, with a failure of the oracle itself (out of memory) as an `error` row."""
    try:
        return oracle_row(case)
    except Exception as error:  # noqa: BLE001 - the run goes on; the row says what happened
        if case.expected is None and case.expected_shape is None:
            return None
        return Row(case.file, case.id, ORACLE, "numpy", np.__version__, "error", params=case.describe(),
                   message=_failure(error, "the oracle failed: "))


def adapter_row(case: Case, adapter: Adapter, *, discrepancies: KnownDiscrepancies | None = None) -> Row:
    """Run one case on one adapter and judge it; never raises (an adapter's `supports()`, `run()`
    and whatever `run()` returns are all guarded)."""
    try:
        version = str(adapter.version())
    except Exception as error:  # noqa: BLE001 - a broken install is a row, not a crash
        return Row(case.file, case.id, adapter.name, adapter.framework, "unknown", "error",
                   message=f"cannot import {adapter.framework}: {type(error).__name__}: {error}",
                   params=case.describe())
    row = Row(case.file, case.id, adapter.name, adapter.framework, version, "pass", params=case.describe())
    sent, row.path = _described(case, adapter)
    with_sent([row], sent)
    row.route = str(getattr(adapter, "route", "") or "")
    reference = cached_reference(case)
    row.expected_shape = _shape(reference.rounded)
    try:
        reason = adapter.supports(case)
    except Exception as error:  # noqa: BLE001 - a faulty supports() is the adapter's bug: a row
        row.status, row.message = "error", _failure(error, "supports() raised ")
        label(row, case, discrepancies)
        return row
    if reason is not None:
        row.status, row.message = "unsupported", str(reason)
        return row
    start = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # inf is a legitimate answer (overflow)
            actual = as_result(adapter.run(case), "run()")
    except Exception as error:  # noqa: BLE001 - the framework's exception is the finding
        row.time_ms = (time.perf_counter() - start) * 1e3
        row.status, row.message = "error", _failure(error)
    else:
        row.time_ms = (time.perf_counter() - start) * 1e3
        row.actual_shape = _shape(actual)
        try:
            _judge_forward(row, case, adapter, actual, reference)
        except Exception as error:  # noqa: BLE001 - what the adapter returned could not be judged
            row.status = "error"
            row.message = _failure(error, f"could not judge what run() returned (dtype {actual.dtype}): ")
    label(row, case, discrepancies)
    return row


def _judge_forward(row: Row, case: Case, adapter: Adapter, actual: np.ndarray, reference: Reference) -> None:
    verdict = judge_case(actual, reference, case)
    _apply_verdict(row, verdict)
    if verdict.notes:
        accepted = "accepted: " + "; ".join(verdict.notes)
        row.message = f"{row.message} [{accepted}]" if row.message else accepted
    note = _safely(adapter.translation, case, lambda error: f"(translation note failed: {error})")
    if note:
        row.message = f"{row.message} [translated: {note}]" if row.message else f"translated: {note}"
    if row.status == "fail":
        row.diagnosis = _besides(verdict.diagnosis or diagnose(case, actual, reference), verdict)
        row.plot = plot_slice(case, actual, reference.rounded, verdict_index=row.worst_index)


def _besides(diagnosis: str, verdict: Verdict) -> str:
    """The row's diagnosis, and the mechanisms of the named NaNs the judge found beside its error
    (`Verdict.besides`: words without counts, so the fuzzer's one-finding-per-mechanism holds)."""
    return "; ".join([diagnosis, *(f"besides, {named}" for named in verdict.besides if named != diagnosis)])


def label(row: Row, case: Case, discrepancies: KnownDiscrepancies | None) -> None:
    """A failing row a known-discrepancy entry explains is `xfail`; a passing one under a strict entry `xpass`.
    A row with named NaNs beside its error (`Row.set_aside`) is explained only where an entry explains
    each of them as well, as it would the lone named failure."""
    if discrepancies is None:
        return
    failed = row.status in ("fail", "error")
    # `checks`, what the case's job ran (`forward,grad_input`): a crash takes every row of its job, the forward one included
    params = {**matching_params(row), "checks": ",".join(case.checks)}
    entries = [discrepancies.lookup(case.full_id, row.adapter, row.framework_version, params, failed=failed,
                                    message=message, lost=row.lost) for message in (row.message, *row.set_aside)]
    entry = entries[0]
    if any(other is None for other in entries[1:]):
        return
    if entry is not None and (failed or (row.status == "pass" and entry.strict)):
        row.known_issue = " Besides: ".join(dict.fromkeys(e.known_issue for e in entries))
        row.status = "xfail" if failed else "xpass"



def gradient_rows(case: Case, adapter: Adapter, *, discrepancies: KnownDiscrepancies | None = None) -> list[Row]:
    """One row per gradient the case asks for (`check:`), judged against the oracle's adjoints;
    the adapter's autodiff runs once for all of them. Never raises."""
    checks = [c for c in case.checks if c != "forward"]
    if not checks:
        return []
    try:
        version = str(adapter.version())
    except Exception as error:  # noqa: BLE001 - a broken install is a row, not a crash
        return [Row(case.file, case.id, adapter.name, adapter.framework, "unknown", "error", check=c,
                    message=f"cannot import {adapter.framework}: {type(error).__name__}: {error}",
                    params=case.describe()) for c in checks]
    sent, path = _described(case, adapter)
    rows = with_sent([Row(case.file, case.id, adapter.name, adapter.framework, version, "pass", check=c, path=path,
                          params=case.describe()) for c in checks], sent)
    reason = (_safely(adapter.supports, case, lambda error: f"supports() raised {type(error).__name__}: {error}")
              or _safely(adapter.gradient_support, case,
                         lambda error: f"gradient_support() raised {type(error).__name__}: {error}"))
    start = time.perf_counter()
    failure = None
    try:
        grads = None if reason else adapter.gradients(case)
        if grads is not None and not isinstance(grads, dict):
            raise TypeError(f"gradients() returned {type(grads).__name__}, not a dict of arrays")
    except Exception as error:  # noqa: BLE001 - the framework's exception is the finding
        failure, grads = _failure(error), None
    elapsed = (time.perf_counter() - start) * 1e3
    for row in rows:
        row.time_ms = elapsed
        if reason:
            row.status, row.message = "unsupported", str(reason)
            continue
        reference = cached_gradient_reference(case, row.check)
        row.expected_shape = _shape(reference.rounded)
        if failure or grads is None or row.check not in grads:
            row.status, row.message = "error", failure or f"{adapter.name} returned no {row.check}"
        else:
            try:
                actual = as_result(grads[row.check], f"gradients()[{row.check!r}]")
                row.actual_shape = _shape(actual)
                _judge_gradient(row, case, adapter, actual, reference)
            except Exception as error:  # noqa: BLE001 - a junk gradient is the adapter's bug: a row
                row.status, row.message = "error", _failure(error)
        label(row, case, discrepancies)
    return rows


def _judge_gradient(row: Row, case: Case, adapter: Adapter, actual: np.ndarray, reference: Reference) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        verdict = judge_case(actual, reference, case, flushed=flushed_gradient_references(row.check),
                             check=row.check)
    _apply_verdict(row, verdict)
    if verdict.notes:
        accepted = "accepted: " + "; ".join(verdict.notes)
        row.message = f"{row.message} [{accepted}]" if row.message else accepted
    note = _safely(lambda c: adapter.gradient_translation(c, row.check), case,
                   lambda error: f"(translation note failed: {error})")
    if note:
        row.message = f"{row.message} [translated: {note}]" if row.message else f"translated: {note}"
    if row.status == "fail":
        row.diagnosis = _besides(verdict.diagnosis or "unexplained", verdict)


def job_checks(case: Case) -> list[str]:
    """The rows one case makes on one adapter: `forward` where it checks it, then each gradient."""
    return [c for c in case.checks if c == "forward"] + [c for c in case.checks if c != "forward"]


def failed_rows(case: Case, adapter: str, framework: str, message: str) -> list[Row]:
    """`error` rows for every row a job would have made, when the job itself was lost (the worker
    crashed or overran its time): the version is the installed distribution's."""
    from harness.environment import installed_version

    version = installed_version(framework) or "unknown"
    return [Row(case.file, case.id, adapter, framework, version, "error", check=check, message=message,
                params=case.describe(), lost=True) for check in job_checks(case)]


def guarded_rows(case: Case, adapter: Adapter) -> list[Row]:
    """A job's rows (unlabelled) in a worker process, where anything the adapter raises, even
    `SystemExit` or `KeyboardInterrupt` (the worker ignores the terminal's SIGINT), is a row."""
    rows: list[Row] = []
    if "forward" in case.checks:
        try:
            rows.append(adapter_row(case, adapter))
        except BaseException as error:  # noqa: BLE001 - sys.exit() inside an adapter ends nothing
            rows += with_sent(failed_rows(case, adapter.name, adapter.framework,
                                          _failure(error, "raised inside the adapter: "))[:1], sent_of(case, adapter))
    try:
        rows += gradient_rows(case, adapter)
    except BaseException as error:  # noqa: BLE001
        gradient_failures = failed_rows(case, adapter.name, adapter.framework,
                                        _failure(error, "raised inside the adapter: "))
        rows += with_sent([r for r in gradient_failures if r.check != "forward"], sent_of(case, adapter))
    return rows


def with_sent(rows: list[Row], sent: dict[str, str]) -> list[Row]:
    """The rows with what the adapter sends: the mapping known entries match on (`sent_...`) and the
    report's `key=value; ...` column, written in one place."""
    for row in rows:
        row.sent_map, row.sent = sent, "; ".join(f"{k}={v}" for k, v in sent.items())
    return rows


PLOT_LIMIT = 96  # positions per spatial dim kept for the picture


def plot_slice(case: Case, actual: np.ndarray, expected: np.ndarray, *, verdict_index: str) -> dict[str, object] | None:
    """The (batch, channel) slice of a failing 1-D or 2-D result worth a picture."""
    if case.rank > 2 or actual.ndim != expected.ndim or actual.size == 0 or expected.size == 0:
        return None
    worst = [int(i) for i in verdict_index.split(",")] if verdict_index else [0, 0]
    n, c = worst[0], worst[1]
    if n >= min(actual.shape[0], expected.shape[0]) or c >= min(actual.shape[1], expected.shape[1]):
        n = c = 0
    crop = (slice(0, PLOT_LIMIT),) * case.rank

    def part(a: np.ndarray) -> list:
        return np.asarray(a[(n, c, *crop)], dtype=np.float64).tolist()

    return {"expected": part(expected), "actual": part(actual), "where": f"batch {n}, channel {c}"}


def matching_params(row: Row) -> dict[str, str]:
    """What a known-discrepancy entry's `when` sees: the case's parameters, what the adapter sent
    (`sent_padding`), the path (`path`) and the platform facts (`avx512_fp16: no`, `cpu_vendor`)."""
    return {**machine.facts(), **row.params, **{f"sent_{k}": v for k, v in row.sent_map.items()}, "path": row.path,
            "check": row.check}


def _safely(method: Callable, case: Case, on_error: Callable[[Exception], object]):
    """An adapter's description of a case (sent, path, translation); a slip in it must not lose the row."""
    try:
        return method(case)
    except Exception as error:  # noqa: BLE001
        return on_error(error)


@dataclass
class RunResult:
    """All rows of a run, and what the summary must mention."""

    rows: list[Row]
    missing_frameworks: tuple[str, ...] = ()
    stale: list[str] = field(default_factory=list)
    partial: bool = False  # stopped (SIGINT, SIGTERM) before every row was made
    interrupted_by: BaseException | None = None

    @property
    def ok(self) -> bool:
        """No `fail` and no `error` row: the command's exit status 0."""
        return not any(r.status in ("fail", "error") for r in self.rows)


def run(
    cases: Sequence[Case],
    adapters: Iterable[Adapter],
    *,
    discrepancies: KnownDiscrepancies | None = None,
    missing_frameworks: tuple[str, ...] = (),
    on_row: Callable[[Row], None] | None = None,
) -> RunResult:
    """Every case on every adapter, plus an oracle row for each case with golden data."""
    adapters = list(adapters)
    import_first(a.framework for a in adapters)
    batches = prepare_batches(cases)
    rows: list[Row] = []
    for index, case in enumerate(cases):
        produced: list[Row | None] = [oracle_row(case)]
        for adapter in adapters:
            prepare(adapter, batches.get(index, ()))  # each batch as its first case comes: what it made is used soon
            if "forward" in case.checks:
                produced.append(adapter_row(case, adapter, discrepancies=discrepancies))
            produced += gradient_rows(case, adapter, discrepancies=discrepancies)
        for row in produced:
            if row is not None:
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    stale = [e.label for e in discrepancies.stale()] if discrepancies is not None else []
    return RunResult(rows, missing_frameworks, stale)


PREPARE_AHEAD = 32  # cases handed to `Adapter.prepare` at a time: a converter call's worth


def prepare_batches(cases: Sequence[Case]) -> dict[int, tuple[Case, ...]]:
    """The forward cases in runs of PREPARE_AHEAD, by the index in `cases` of each run's first case:
    what an adapter's `prepare` is handed ahead of that case's row."""
    forward = [(index, case) for index, case in enumerate(cases) if "forward" in case.checks]
    return {forward[start][0]: tuple(case for _, case in forward[start:start + PREPARE_AHEAD])
            for start in range(0, len(forward), PREPARE_AHEAD)}


def prepares(adapter: Adapter) -> bool:
    """Whether the adapter does anything in `prepare` (only then are cases sent ahead to it)."""
    return type(adapter).prepare is not Adapter.prepare


def prepare(adapter: Adapter, cases: Sequence[Case]) -> None:
    """`adapter.prepare(cases)`, whose failure decides nothing: each row then does its own work."""
    if cases and prepares(adapter):
        with contextlib.suppress(Exception):
            adapter.prepare(cases)


def planned_rows(cases: Sequence[Case], adapters: Iterable[Adapter]) -> int:
    """How many rows `run(cases, adapters)` produces (what a progress bar announces): an oracle
    row per case with golden data, per adapter one forward row where the case checks the forward
    result and one row per gradient it checks."""
    adapters = list(adapters)
    total = 0
    for case in cases:
        total += case.expected is not None or case.expected_shape is not None
        total += len(adapters) * len(job_checks(case))
    return total
