"""Stopping a run on purpose: SIGINT (Ctrl-C) and SIGTERM (CI's cancel, `timeout`, `kill`).

Both become an exception in the main thread (SIGTERM's is `Terminated`, a `KeyboardInterrupt`, so
every `except KeyboardInterrupt` takes it too); the scheduler then stops the workers and keeps the
finished rows, which are written as a report marked partial. While the report files are written
and renamed both signals wait (`deferred_signals`), so a stop never leaves a report half-replaced.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

INTERRUPTED = 130  # 128 + SIGINT: the shell's status for Ctrl-C, and the contract's
TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM raises `Terminated` (SIGINT already raises KeyboardInterrupt) while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then raise as usual. (Handlers that only
    record the signal, not a blocked signal mask: the kernel would hand a blocked signal to
    another thread, whose handler flag the main thread still acts on at once.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda number, frame: received.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if signal.SIGTERM in received:
        raise Terminated
    if received:
        raise KeyboardInterrupt


def signal_name(error: BaseException | None) -> str:
    """Which stop this exception stands for: `SIGTERM`, `SIGINT`, or what else ended the run."""
    if isinstance(error, Terminated):
        return "SIGTERM"
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    return "an unknown stop" if error is None else type(error).__name__


def exit_status_for(error: BaseException | None) -> int:
    """The exit status of a stopped run: 143 after SIGTERM, 130 otherwise."""
    return TERMINATED if isinstance(error, Terminated) else INTERRUPTED
