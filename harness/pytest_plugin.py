"""The pytest plugin: any folder of case files as a case x adapter test matrix.

    pytest --tconv my_cases/ -n auto --tconv-report reports/mine

collects every case of every YAML file under the given paths, once per adapter (and once for the
oracle where a case has golden `expected` data), with ids from the data:
`layers.yaml::unet-up[torch.functional]`. Items carry the framework as a marker (`-m torch`,
`-m "not tensorflow"`), so `-k`/`-m` select, and an `xdist_group` per adapter, so
`-n auto --dist loadgroup` runs an adapter's items in order in one worker (a case's gradient
items share one autodiff run) while the adapters spread over the workers: grouped per framework,
the dynamo exporter, TorchScript and PyTorch's own two adapters were one worker's queue, the
longest of the matrix. The row of each item
comes from the one runner (`harness.runner.adapter_row`): `unsupported` is a skip with what the
framework lacks, a known discrepancy an xfail, a failure's message the row's bug report. With
`--tconv-report DIR` the run's rows (gathered from the xdist workers) become the usual
report.csv/json/html at the end.

A project lists its case folders once in its ini file (`tconv_paths = cases`); they are then
collected whenever pytest runs on its default paths (`testpaths` or the current folder), and
left alone when the command line names other paths. This project's own conformance matrix is
this plugin over `cases/`.

The module imports nothing heavy at import time: it is loaded in every pytest run of an
environment where tconv is installed.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import sys
import warnings
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROW_PROPERTY = "tconv_row"
CASE_SUFFIXES = (".yaml", ".yml")
_STATE = pytest.StashKey["_Session"]()


class _Session:
    """What one pytest process knows about the tconv run: roots, adapters, table, rows."""

    def __init__(self, config: pytest.Config, roots: list[Path]) -> None:
        from adapters import load_plugin, select_adapters, unknown_frameworks
        from harness.discrepancies import DEFAULT_TABLE, load_discrepancies

        option = config.option
        frameworks = tuple(f.strip() for f in option.tconv_frameworks.split(",") if f.strip()) \
            if option.tconv_frameworks else None
        plugins = [a for path in option.tconv_plugin for a in load_plugin(path)]
        unknown = unknown_frameworks(frameworks or (), plugins)
        if unknown:
            raise pytest.UsageError(f"--tconv-frameworks: unknown framework(s) {', '.join(unknown)}")
        self.roots = roots
        self.adapters = list(select_adapters(frameworks=frameworks, names=option.tconv_adapters, plugins=plugins))
        if not self.adapters:
            raise pytest.UsageError(f"--tconv-frameworks/--tconv-adapters select no adapter "
                                    f"({option.tconv_frameworks or 'all'}, {option.tconv_adapters}); "
                                    "`tconv adapters` lists them")
        known = option.tconv_known or config.getini("tconv_known") or DEFAULT_TABLE
        if not Path(known).is_file():
            raise pytest.UsageError(f"--tconv-known: no such file: {known}")
        try:
            self.known = load_discrepancies(known)
        except ValueError as error:
            raise pytest.UsageError(f"--tconv-known: {error}") from None
        self._gradients: dict[tuple[int, str], list[Any]] = {}
        self._ahead: dict[str, tuple[list[Any], dict[Any, int]]] = {}  # per adapter: forward items, those not handed
        baseline = option.tconv_baseline or config.getini("tconv_baseline")
        self.baseline = Path(baseline) if baseline else None
        if self.baseline is not None and not self.baseline.is_file():
            raise pytest.UsageError(f"--tconv-baseline: no such file: {baseline} (a report.csv or report.json "
                                    "that `tconv run` or `--tconv-report` wrote)")

    def gradient_row(self, case: Any, adapter: Any, check: str) -> Any:
        """One gradient's row; the adapter's autodiff runs once for all the case's gradients
        (the items of one case and framework run one after another in one process)."""
        from harness.runner import gradient_rows

        key = (id(case), adapter.name)
        if key not in self._gradients:
            self._gradients = {key: gradient_rows(case, adapter, discrepancies=self.known)}
        return next(r for r in self._gradients[key] if r.check == check)

    def prepare_ahead(self, item: CaseItem) -> None:
        """Hand the adapter this item's case and the next few of its forward items not handed yet
        (the order this process runs an adapter's items in: xdist keeps an adapter's group in one
        worker); nothing for an adapter without a `prepare`."""
        from harness.runner import PREPARE_AHEAD, prepare, prepares

        name = item.adapter.name
        if name not in self._ahead:
            items = [i for i in item.session.items if isinstance(i, CaseItem) and i.adapter is item.adapter
                     and i.check == "forward"] if prepares(item.adapter) else []
            self._ahead[name] = (items, {i: n for n, i in enumerate(items)})
        items, not_handed = self._ahead[name]
        start = not_handed.get(item)
        if start is None:
            return
        batch = [i for i in items[start:start + PREPARE_AHEAD] if not_handed.pop(i, None) is not None]
        prepare(item.adapter, [i.case for i in batch])

    def display_name(self, path: Path) -> str:
        """A case file's name as `tconv run ROOT` gives it (relative to the case folder it was
        found under), so the rows match a report or baseline that `tconv run` wrote."""
        path = path.resolve()
        for root in self.roots:
            if root.is_dir() and root in path.parents:
                return path.relative_to(root).as_posix()
        return path.name

    def covers(self, path: Path) -> bool:
        from harness.casefile import NOT_CASE_FILES

        if path.suffix not in CASE_SUFFIXES or path.name in NOT_CASE_FILES:
            return False
        path = path.resolve()
        return any(path == root or root in path.parents for root in self.roots)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tconv", "tconv: transposed-convolution conformance cases")
    group.addoption("--tconv", nargs="+", action="extend", default=[], metavar="PATH",
                    help="collect the case files in these files or folders as a case x adapter test matrix "
                         "(only them, unless other paths are given too)")
    group.addoption("--tconv-frameworks", default=None, metavar="LIST",
                    help="comma-separated frameworks whose adapters run (default: all; a missing one skips)")
    group.addoption("--tconv-adapters", default="*", metavar="GLOB[,GLOB]",
                    help="only adapters whose name matches one of the globs (default: all)")
    group.addoption("--tconv-known", default=None, metavar="FILE",
                    help="known-discrepancy table (default: the ini's tconv_known, else tconv's own table)")
    group.addoption("--tconv-plugin", action="append", default=[], metavar="FILE.py",
                    help="also run the ADAPTERS defined in this file; repeatable")
    group.addoption("--tconv-report", default=None, metavar="DIR",
                    help="write the run's report.csv, report.json and report.html into DIR at the end")
    group.addoption("--tconv-baseline", default=None, metavar="REPORT",
                    help="compare the run's rows with this report (CSV or JSON) at the end: a row that got "
                         "worse (`tconv compare`'s rule) fails the session (default: the ini's tconv_baseline)")
    parser.addini("tconv_paths", type="paths", default=[],
                  help="case files or folders collected whenever pytest runs on its default paths")
    parser.addini("tconv_known", default="", help="known-discrepancy table for the tconv items")
    parser.addini("tconv_baseline", default="",
                  help="report the tconv items' rows are compared with at the end (see --tconv-baseline)")
    parser.addini("tconv_lean_xdist", type="bool", default=True,
                  help="under xdist, a tconv item's passing setup and teardown reports and its logstart stay "
                       "in the worker (they say nothing; off by itself with --junitxml or --report-log, which "
                       "read every phase)")


def _roots(config: pytest.Config) -> list[Path]:
    """The case paths of this run (resolved); `config.args` extended so pytest collects them.

    `--tconv PATH...` collects those (only them when no other path is given); the ini's
    `tconv_paths` are added when pytest runs on its default paths, and otherwise still let
    `pytest cases/seeds.yaml` collect a case file named on the command line.
    """
    given = [Path(p) for p in config.option.tconv]
    explicit_args = config.args_source == pytest.Config.ArgsSource.ARGS
    for path in given:
        if not path.exists():
            raise pytest.UsageError(f"--tconv: no such file or folder: {path}")
    if given and not explicit_args:
        config.args[:] = []
    from_ini = [Path(p) for p in config.getini("tconv_paths")]
    for path in from_ini:
        if not given and not path.exists():
            raise pytest.UsageError(f"tconv_paths (ini): no such file or folder: {path}")
    roots = given or from_ini
    if given or not explicit_args:
        present = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args.extend(str(p) for p in roots if p.resolve() not in present)
    return [p.resolve() for p in roots]


def pytest_configure(config: pytest.Config) -> None:
    roots = _roots(config)
    if not roots:
        return
    from adapters import FRAMEWORKS
    from harness import machine

    if hasattr(config, "workerinput"):  # xdist's workers share the cores; before a plugin file imports a framework
        machine.wait_passively()
    state = _Session(config, roots)
    if hasattr(config, "workerinput"):
        _skip_interpreter_teardown()
    if hasattr(config, "workerinput") or config.getoption("dist", "no") == "no":  # the processes that run items
        from adapters.base import import_first

        import_first(a.framework for a in state.adapters)  # one process may run every framework in turn
    config.stash[_STATE] = state
    if hasattr(config, "workerinput"):  # an xdist worker: the controller gathers the rows and writes the report
        if _lean_xdist(config):
            from harness.xdist_scheduling import keep_worker_messages_lean

            keep_worker_messages_lean(config, lambda item: isinstance(item, CaseItem),
                                      keep_logstart=config.get_verbosity() > 0)
    else:
        config.pluginmanager.register(_Reporter(state), "tconv-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Scheduling(), "tconv-xdist-scheduling")
    for framework in dict.fromkeys([*FRAMEWORKS, *(a.framework for a in state.adapters)]):
        config.addinivalue_line("markers", f"{framework}: tconv items run by {framework}'s adapters")


def _lean_xdist(config: pytest.Config) -> bool:
    """Whether the workers may keep a tconv item's silent setup and teardown reports (the ini's
    `tconv_lean_xdist`): not when a JUnit XML or report log is written, which read every phase."""
    writes_every_phase = getattr(config.option, "xmlpath", None) or getattr(config.option, "reportlog", None)
    return bool(config.getini("tconv_lean_xdist")) and not writes_every_phase


def _skip_interpreter_teardown() -> None:
    """Let an xdist worker exit without tearing down the frameworks' modules: after its last
    message, a worker that ran every framework spent ~6.5 s in that teardown (measured on the
    built-in matrix), and the controller waits for it before the session ends. Registered here,
    before the frameworks load, the handler runs after their own exit handlers; it runs the
    weakref finalizers (temporary folders) and logging's shutdown, which may have registered
    before it, then leaves. The worker's exit status is not its result: its rows and outcomes
    reached the controller as messages before this."""

    def exit_now() -> None:
        weakref.finalize._exitfunc()  # type: ignore[attr-defined]  # the stdlib's own atexit hook for finalizers
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)

    atexit.register(exit_now)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = parent.config.stash.get(_STATE, None)
    if state is not None and state.covers(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    """One case file: an item per case and adapter, plus the oracle's where there is golden data."""

    def collect(self):
        from harness.casefile import CaseFileError, load_cases

        state = self.config.stash[_STATE]
        grouped = self.config.pluginmanager.hasplugin("xdist")
        try:
            cases = load_cases([self.path])
        except CaseFileError as error:
            raise self.CollectError(str(error)) from None
        name = state.display_name(self.path)
        cases = [c if c.file == name else dataclasses.replace(c, file=name) for c in cases]
        for case in cases:
            if case.expected is not None or case.expected_shape is not None:
                item = CaseItem.from_parent(self, name=f"{case.id}[oracle]", case=case, adapter=None)
                item.add_marker(pytest.mark.numpy)
                yield item
            for adapter in state.adapters:
                for check in case.checks:
                    suffix = "" if check == "forward" else f":{check}"
                    item = CaseItem.from_parent(self, name=f"{case.id}[{adapter.name}{suffix}]", case=case,
                                                adapter=adapter, check=check)
                    item.add_marker(getattr(pytest.mark, adapter.framework))
                    if grouped:  # `--dist loadgroup`: an adapter's items in order, in one worker
                        item.add_marker(pytest.mark.xdist_group(adapter.name))
                    yield item


class _Scheduling:
    """`--dist loadgroup` with the pending counts kept as numbers (`harness.xdist_scheduling`:
    xdist's own scheduler is quadratic in the items, and the matrix has twenty thousand), and with
    its groups kept on pytest 9.2, whose node ids xdist's group suffix no longer reaches."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadgroup":
            return None
        from harness.xdist_scheduling import CountingLoadGroupScheduling

        return CountingLoadGroupScheduling(config, log)

    @pytest.hookimpl(trylast=True)  # after xdist's own suffix, which pytest 9.2 no longer reads
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if getattr(config.option, "loadgroup", False):  # set in xdist's workers under `--dist loadgroup`
            from harness.xdist_scheduling import group_node_ids

            group_node_ids(items)


class RowFailure(Exception):
    """A `fail` or `error` row; its text is the row's bug report."""


class CaseItem(pytest.Item):
    """One case on one adapter (or the oracle against the case's golden data)."""

    def __init__(self, *, case: Any, adapter: Any, check: str = "forward", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case, self.adapter, self.check = case, adapter, check

    def runtest(self) -> None:
        from adapters.base import framework_installed, missing_requirements
        from harness.runner import adapter_row, oracle_row

        if self.adapter is None:
            row = oracle_row(self.case)
        else:
            if not framework_installed(self.adapter.framework):
                pytest.skip(f"{self.adapter.framework} is not installed")
            missing = missing_requirements(self.adapter)  # a converter the adapter requires (its own tox env)
            if missing:
                pytest.skip(f"{', '.join(missing)} is not installed")
            with warnings.catch_warnings():  # the frameworks' own deprecation notices are not findings
                warnings.simplefilter("ignore", DeprecationWarning)
                state = self.config.stash[_STATE]
                if self.check == "forward":
                    state.prepare_ahead(self)
                    row = adapter_row(self.case, self.adapter, discrepancies=state.known)
                else:
                    row = state.gradient_row(self.case, self.adapter, self.check)
        self.user_properties.append((ROW_PROPERTY, _encode(row)))
        if row.status == "unsupported":
            pytest.skip(f"unsupported: {row.message}")
        if row.status == "xfail":
            pytest.xfail(f"known discrepancy: {row.known_issue} | {row.message}")
        if row.status not in ("pass", "xpass"):
            raise RowFailure(row.bug_report())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (RowFailure, pytest.xfail.Exception)):
            # The row is the whole story; pytest's traceback of the plugin's own frames says nothing
            # and costs ~0.3 s of source parsing per item (a third of the matrix's time, measured).
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)  # type: ignore[arg-type]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def _encode(row: Any) -> str:
    """A row as JSON text: it travels from an xdist worker in the test report's user_properties."""
    data = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    return json.dumps(data, default=str)


def _decode(text: str) -> Any:
    from harness.runner import Row

    return Row(**json.loads(text))


class _Reporter:
    """Gathers the rows on the process that writes the report (the xdist controller, or the
    only process) and writes it at the end; registered only when tconv items are collected."""

    def __init__(self, state: _Session) -> None:
        self.state = state
        self.baseline: Future[Any] | None = None
        if state.baseline is not None:  # read while the items run, not on the session's tail
            reading = ThreadPoolExecutor(1, thread_name_prefix="tconv-baseline")
            self.baseline = reading.submit(_read_baseline, state.baseline)
            reading.shutdown(wait=False)
        self.encoded: list[str] = []
        self._decoded: list[Any] = []
        self.written: dict[str, Path] = {}
        self.comparison: Any = None

    def rows(self) -> list[Any]:
        """The rows received so far, each decoded once (the session's end and its summary both read them)."""
        self._decoded += [_decode(text) for text in self.encoded[len(self._decoded):]]
        return self._decoded

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.encoded += [value for name, value in report.user_properties if name == ROW_PROPERTY]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        if hasattr(config, "workerinput") or not (config.option.tconv_report or self.state.baseline):
            return
        from harness.environment import environment

        rows = self.rows()
        env = environment(["pytest", *config.invocation_params.args])
        if self.baseline is not None and rows:
            self.comparison = _compared(rows, env, self.baseline.result())
            if self.comparison.worse_lines() and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if config.option.tconv_report:
            from harness.report import write_reports

            summary = {"counts": _counts(rows), "warnings": [f"stale known-discrepancy entry: {s}" for s in _stale(rows)],
                       "cases": len({(r.case_file, r.case_id) for r in rows}),
                       "adapters": sorted({r.adapter for r in rows})}
            self.written = write_reports(Path(config.option.tconv_report), rows, env, summary=summary)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.encoded:
            return
        rows = self.rows()
        for label in _stale(rows):
            terminalreporter.write_line(f"tconv: stale known-discrepancy entry (every row it labels passed): {label}")
        if self.comparison is not None:
            _write_comparison(terminalreporter, self.comparison, self.state.baseline)
        if self.written:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(_counts(rows).items()))
            where = self.written.get("html", self.written["csv"])
            terminalreporter.write_line(f"tconv: {len(rows)} rows ({counts}); report: {where}")


def _read_baseline(baseline: Path) -> tuple[Any, dict[str, str]]:
    """The baseline report's rows and environment (`harness.report.read_report`)."""
    from harness.report import read_report

    base, base_env, _ = read_report(baseline)
    return base, base_env


def _compared(rows: list[Any], env: dict[str, str], baseline: tuple[Any, dict[str, str]]) -> Any:
    """The run's rows against the baseline report's, on the rows both have (a run of some files,
    adapters or `-k` selections compares those; the rest is neither worse nor vanished)."""
    from harness.compare import compare_reports
    from harness.report import rows_frame

    base, base_env = baseline
    new = rows_frame(rows, env)
    return compare_reports(base, new, base_environment=base_env, new_environment=env, only_new_adapters=True)


def _write_comparison(terminalreporter: Any, comparison: Any, baseline: Path | None) -> None:
    worse = comparison.worse_lines()
    compared = int(comparison.table["status_base"].notna().mul(comparison.table["status_new"].notna()).sum())
    if not worse:
        terminalreporter.write_line(f"tconv: no row got worse than the baseline {baseline} ({compared} rows compared)")
        return
    terminalreporter.write_line(f"tconv: {len(worse)} rows got worse than the baseline {baseline} "
                                f"({compared} rows compared): the session fails", red=True)
    for line in [*worse[:50], *([f"... and {len(worse) - 50} more"] if len(worse) > 50 else [])]:
        terminalreporter.write_line(f"  {line}")
    for line in [*comparison.version_lines(), *comparison.platform_lines()]:
        terminalreporter.write_line(f"  {line}")


def _counts(rows: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def _stale(rows: list[Any]) -> list[str]:
    """Entries whose every labelled row passed (xpass): the discrepancy is gone on this run."""
    labels: dict[str, set[str]] = {}
    for row in rows:
        if row.known_issue:
            labels.setdefault(row.known_issue, set()).add(row.status)
    return sorted(label for label, statuses in labels.items() if statuses == {"xpass"})
