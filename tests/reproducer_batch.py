"""Runs several reproducers of one framework in one Python process, each as `python script.py`
would, and writes each one's exit status to a JSON file: `python reproducer_batch.py OUT SCRIPT...`.

A reproducer is a standalone script, and most of its time is the framework's import (TensorFlow
takes seconds). Scripts that set the same environment share a process, so the import is paid
once; test_repro groups them by the switches they write and sets those before the first one runs.
A script's verdict from a shared process is kept only when the script itself changed no switch in
`os.environ` (one set after an earlier script imported the framework would have no effect); the
frameworks' own writes on import (TensorFlow sets several) are theirs, not the script's. Otherwise,
or when the process died before the script finished, the script is marked `alone` and runs in a
process of its own. Logging levels are not switches: a script may set them freely.

Statuses are Python's: `SystemExit`'s code (1: the discrepancy is still there), 3 for an
exception nobody caught (as test_repro's single-script runner), as `python script.py` gives.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

QUIET = frozenset({"TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel"})  # logging only: no kernel or path depends on them


class _ScriptWrites:
    """Records the switches the running script itself changes in `os.environ`, told by the first
    caller frame outside `os` and `collections.abc` (a framework's own write is not the script's)."""

    def __init__(self, folder: str) -> None:
        self.folder, self.changed = folder, set()
        self.set_item, self.del_item = os._Environ.__setitem__, os._Environ.__delitem__

    def _by_script(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None and os.path.basename(frame.f_code.co_filename) in ("os.py", "_collections_abc.py"):
            frame = frame.f_back
        return frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == self.folder

    def __enter__(self) -> _ScriptWrites:
        writes = self

        def set_item(environ: os._Environ, key: str, value: str) -> None:
            if key not in QUIET and environ.get(key) != value and writes._by_script():
                writes.changed.add(key)
            writes.set_item(environ, key, value)

        def del_item(environ: os._Environ, key: str) -> None:
            if key not in QUIET and writes._by_script():
                writes.changed.add(key)
            writes.del_item(environ, key)

        os._Environ.__setitem__, os._Environ.__delitem__ = set_item, del_item
        return self

    def __exit__(self, *exc: object) -> None:
        os._Environ.__setitem__, os._Environ.__delitem__ = self.set_item, self.del_item


def _exit_status(code: object) -> int:
    """What `python script.py` exits with for `SystemExit(code)`."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_one(path: str) -> dict[str, object]:
    """One script in this process: its status, what it printed, and whether that verdict holds."""
    out, err = io.StringIO(), io.StringIO()
    folder = os.path.dirname(os.path.abspath(path))
    sys.argv, sys.path[0] = [path], folder
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _ScriptWrites(folder) as writes:
        try:
            runpy.run_path(path, run_name="__main__")
            status = 0
        except SystemExit as done:
            status = _exit_status(done.code)
        except BaseException:  # noqa: BLE001 - a crash is a status (3), as in test_repro's own runner
            traceback.print_exc()
            status = 3
    return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue(), "alone": bool(writes.changed),
            "changed": sorted(writes.changed)}


def main(out: str, scripts: list[str]) -> None:
    results: dict[str, object] = {}
    for path in scripts:
        results[path] = run_one(path)
        with open(out + ".tmp", "w", encoding="utf-8") as handle:  # written after each: a crash keeps the rest
            json.dump(results, handle)
        os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
