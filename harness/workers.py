"""Adapters in worker processes: whatever a framework does to its process costs one row, not the run.

A segfault or an abort in native code, `os._exit`, `sys.exit`, the out-of-memory killer or a
hang inside an adapter would otherwise end `tconv run` with no report. Here each framework family
(an adapter's `framework`) gets one worker process (Keras and LiteRT share TensorFlow's: see
`PROCESS_GROUPS`), forked by multiprocessing's fork server (a
single-threaded process that imported tconv once: no threads or locks inherited from the
parent, and a start in milliseconds), fed one job at a time (one case on one adapter:
its forward row and its gradient rows), reused across jobs and restarted after a crash or a
timeout. The worker builds the built-in adapters and loads the run's plugin files itself, so only
cases and plain rows cross the pipe. A job whose worker dies or overruns `timeout` becomes `error`
rows naming the signal, the exit status or the time limit; the run goes on with a new worker.

Workers ignore SIGINT (Ctrl-C reaches the whole process group; the parent decides) and write
their stdout and stderr to the run's frameworks log.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from harness.case import Case

DEFAULT_TIMEOUT = 600.0  # seconds per job; the slowest built-in job takes a few seconds
# `tconv fuzz`'s default: its drawn layers are small (a conversion or a compile at most), and hypothesis
# replays a hang while it shrinks it, so `tconv run`'s 600 s would stall a campaign for an hour.
FUZZ_TIMEOUT = 60.0
STARTUP_TIMEOUT = 300.0  # a fresh worker imports its framework (TensorFlow: seconds) before the first job
POLL = 0.1  # how often a waiting parent thread looks at the stop flag
# What the fork server imports once, so that a worker starts in milliseconds, not a second: tconv's
# own modules and their libraries (numpy, pydantic), never a framework (each worker imports its own).
PRELOAD = ["harness.runner", "harness.workers", "adapters"]

# Families whose adapters import TensorFlow (Keras on its TensorFlow backend, LiteRT's converter)
# run in TensorFlow's worker: it imports TensorFlow once (~6 s here), not once per family.
PROCESS_GROUPS = {"keras": "tensorflow", "litert": "tensorflow"}

_SIGNAL_NOTES = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "abort",
    signal.SIGKILL: "killed: out of memory (the kernel's OOM killer) or by a user",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "arithmetic fault",
    signal.SIGILL: "illegal instruction (a kernel built for another CPU?)",
}


@dataclass(frozen=True)
class Job:
    """One case on one adapter: what a worker runs, and where its rows go in the serial order."""

    index: int
    case: Case
    adapter: str
    framework: str
    # this case and the next forward cases, for the adapter's `prepare` (on a run's first job: `runner.prepare_batches`)
    upcoming: tuple[Case, ...] = ()


def process_group(framework: str) -> str:
    """The worker process a family's jobs run in, named after its first family."""
    return PROCESS_GROUPS.get(framework, framework)


def death_message(exitcode: int | None) -> str:
    """Why a worker is gone, in words: the signal (with what it usually means) or the exit status."""
    if exitcode is None:
        return "the worker process vanished"
    if exitcode < 0:
        try:
            number = signal.Signals(-exitcode)
            name = f"{number.name}" + (f" ({_SIGNAL_NOTES[number]})" if number in _SIGNAL_NOTES else "")
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process died: killed by {name}"
    return f"the worker process exited with status {exitcode} (os._exit or a native exit inside the framework)"


# --- the worker's side ------------------------------------------------------------------------


RELEASE = "release"  # a message to a worker: drop the compiled functions its frameworks keep
DESCRIBE = "describe"  # (DESCRIBE, job): what the job's adapter sends for its case, run nothing


def release_compiled_functions() -> None:
    """JAX keeps every compiled executable (one per op and shape) for the life of the process;
    thousands of random shapes held 7 GB after 2,900 fuzz examples. The fuzzer drops them between rounds."""
    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()


def _redirect_output(log: str | None) -> None:
    """The worker's fd 1 and 2 go to the run's frameworks log (never into the progress bar)."""
    if log is None:
        return
    handle = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)


def serve(conn: Connection, framework: str, plugins: Sequence[str], log: str | None,
          environ: dict[str, str], cwd: str) -> None:
    """The worker's loop: build the adapters, then answer each `Job` with its rows until told to stop.

    The parent's environment and folder of this moment are taken first: the fork server that
    started this process may be older than a switch the parent set since (`TCONV_TORCH_MKLDNN`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    _redirect_output(log)
    from adapters import all_adapters, load_plugin
    from adapters.base import FRAMEWORK_MODULES, import_framework
    from harness import machine, runner

    machine.wait_passively()  # before the framework loads: workers of other families share the cores

    adapters = {a.name: a for a in all_adapters()}
    for path in plugins:
        try:
            adapters.update({a.name: a for a in load_plugin(path)})
        except BaseException:  # noqa: BLE001, S112 - the parent loaded it already; its rows say what is missing
            continue
    # The group's first family; the others import on their first job, so one that fails to import
    # fails its own rows.
    if framework in FRAMEWORK_MODULES:
        try:
            import_framework(FRAMEWORK_MODULES[framework])
        except Exception:  # noqa: BLE001, S110 - each row says "cannot import ..."
            pass
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:
            return
        if job == RELEASE:
            release_compiled_functions()
            conn.send(RELEASE)
            continue
        if isinstance(job, tuple) and job[:1] == (DESCRIBE,):
            adapter = adapters.get(job[1].adapter)
            conn.send({} if adapter is None else runner.sent_of(job[1].case, adapter))
            continue
        adapter = adapters.get(job.adapter)
        if adapter is None:
            rows = runner.failed_rows(job.case, job.adapter, job.framework,
                                      f"the worker could not load adapter {job.adapter!r}")
        else:
            runner.prepare(adapter, job.upcoming)
            rows = runner.guarded_rows(job.case, adapter)
        conn.send(rows)


# --- the parent's side ------------------------------------------------------------------------


class Stopped(Exception):
    """The run was told to stop (SIGINT, SIGTERM) while a job was waiting."""


class Worker:
    """The parent's handle on the worker process of one or more framework families (a process group)."""

    def __init__(self, framework: str, *, plugins: Sequence[Path], log: Path | None, timeout: float,
                 stop: threading.Event) -> None:
        self.framework, self.timeout, self.stop_flag = framework, timeout, stop  # what it imports at start
        self.plugins = [str(Path(p).resolve()) for p in plugins]
        self.log = None if log is None else str(Path(log).resolve())
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.restarts = 0

    def _start(self) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        parent_end, child_end = context.Pipe()
        self.process = context.Process(target=serve, args=(child_end, self.framework, self.plugins, self.log,
                                                           dict(os.environ), os.getcwd()),
                                       name=f"tconv-{process_group(self.framework)}", daemon=True)
        self.process.start()
        child_end.close()
        self.conn = parent_end
        message = self._wait(STARTUP_TIMEOUT + self.timeout, what="starting (importing the framework)")
        if not (isinstance(message, tuple) and message[:1] == ("ready",)):
            self.kill()
            raise WorkerLost(f"the worker process did not start properly (it said {message!r})")

    def _wait(self, limit: float, *, what: str) -> object:
        """The worker's next message within `limit` seconds; on death or timeout the worker is
        killed and `WorkerLost` says why."""
        assert self.conn is not None and self.process is not None
        deadline = time.monotonic() + limit
        while True:
            if self.stop_flag.is_set():
                self.kill()
                raise Stopped
            try:
                if self.conn.poll(min(POLL, max(0.0, deadline - time.monotonic()))):
                    return self.conn.recv()
            except (EOFError, OSError):
                raise self._died() from None
            if time.monotonic() >= deadline:
                self.kill()
                raise WorkerLost(f"timed out after {limit:g} s while {what} (--timeout {self.timeout:g}); "
                                 "the worker was killed and a new one runs the next job")

    def _died(self) -> "WorkerLost":
        """The worker's pipe broke: wait for its exit status, clear it away, and say why it is gone."""
        assert self.process is not None
        self.process.join(5)
        code = self.process.exitcode
        self.kill()
        return WorkerLost(death_message(code))

    def run(self, job: Job) -> list:
        """The rows of `job`; a crash or a timeout gives `error` rows and a fresh worker next time."""
        from harness import runner

        started = False
        try:
            if self.process is None:
                self._start()
            started = True
            assert self.conn is not None
            try:
                self.conn.send(job)
            except OSError:  # it died between jobs (idle, or after its last answer): as if it died on this one
                raise self._died() from None
            rows = self._wait(self.timeout, what=f"running {job.adapter} on {job.case.full_id}")
        except WorkerLost as lost:
            self.restarts += 1
            rows = runner.failed_rows(job.case, job.adapter, job.framework, str(lost))
            return self._described(job, rows) if started else rows  # a worker that cannot start says nothing
        if not isinstance(rows, list):
            return runner.failed_rows(job.case, job.adapter, job.framework, f"the worker answered {rows!r}")
        return rows

    def _described(self, job: Job, rows: list) -> list:
        """A lost job's rows with what its adapter sends for the case (`sent_...`: known entries of a
        crash match on it as on any row's), asked of a fresh worker, which the next job needs anyway;
        rows without it where that worker cannot say."""
        from harness import runner

        try:
            if self.process is None:
                self._start()
            assert self.conn is not None
            self.conn.send((DESCRIBE, job))
            sent = self._wait(self.timeout, what=f"describing {job.adapter} on {job.case.full_id}")
        except (WorkerLost, OSError, Stopped):  # a stop meanwhile: the run's next step sees it; the rows stay
            return rows
        return runner.with_sent(rows, sent) if isinstance(sent, dict) else rows

    def release(self) -> None:
        """Have a running worker drop its frameworks' compiled functions (`release_compiled_functions`);
        one that died meanwhile is left for the next job to replace."""
        if self.process is None or self.conn is None:
            return
        try:
            self.conn.send(RELEASE)
            self._wait(self.timeout, what="releasing compiled functions")
        except (WorkerLost, OSError):
            self.kill()

    def kill(self) -> None:
        """End the worker now (a crash, a timeout, a stop); the next job starts a new one."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None

    def close(self) -> None:
        """Ask the worker to finish, then make sure it has."""
        if self.conn is not None:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
        if self.process is not None:
            self.process.join(5)
        self.kill()


class WorkerLost(Exception):
    """A worker died or overran its time; `str()` is the row's message."""
