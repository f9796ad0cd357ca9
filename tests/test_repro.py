"""The reproducers under cases/repro/ still reproduce.

Each script states its framework and the versions on which the discrepancy is known
(`# tconv-repro: framework=onnx versions=>=1.13`) and exits 1 while it is present. On a matching
installed version the script must still exit 1: when a framework fixes the bug this test says
so, and the known-discrepancy entry and the finding are updated.

Most of a script's time is its framework's import, so the scripts that write the same switches
run one after another in shared processes (`tests/reproducer_batch.py`), and a verdict other than
"still reproduces" from a shared process is confirmed in a process of the script's own before it
fails the test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from adapters.base import FRAMEWORK_MODULES, IMPORT_BEFORE, framework_installed
from harness import machine
from harness.environment import installed_version
from tests import reproducer_batch
from tests.conftest import REPO

SCRIPTS = sorted(p for p in (REPO / "cases" / "repro").glob("*.py") if not p.name.startswith("_"))
HEADER = re.compile(r"^# tconv-repro: framework=(\w+) versions=(\S*)(?: requires=(\w+))?$")


def _header(path):
    match = HEADER.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name} lacks its '# tconv-repro: framework=... versions=...' first line"
    return match.group(1), match.group(2)


def _installed(framework: str) -> bool:
    """A tconv framework by its module; a converter of its own tox env (`litert_torch`) by its
    distribution (a script run without it would exit 1 on the ImportError, not on the finding)."""
    if framework in FRAMEWORK_MODULES:
        return framework_installed(framework)
    return installed_version(framework) is not None


def _requires(path) -> str | None:
    """A CPU feature (cpuinfo name) the reproducer needs, from its `requires=` header field."""
    return HEADER.match(path.read_text(encoding="utf-8").splitlines()[0]).group(3)


# A script's own writes to os.environ, as `os.environ.setdefault("K", "V")`, `os.environ["K"] = "V"`
# or `os.environ.pop("K", ...)`; reproducer_batch checks at run time that nothing else was written.
_ENV_WRITE = re.compile(r"""os\.environ(?:\.setdefault\(\s*["'](\w+)["']\s*,\s*["']([^"']*)["']"""
                        r"""|\[["'](\w+)["']\]\s*=\s*["']([^"']*)["']|\.pop\(\s*["'](\w+)["'])""")


# Switches whose absence is the framework's own setting (TensorFlow's oneDNN is on by default on x86, as
# harness.environment reads it; Keras' backend is TensorFlow, as adapters.base sets it): where this
# environment leaves one unset, every shared process sets it (a no-op for the frameworks), and a script's
# `setdefault` to that value writes nothing, so such scripts share the default processes (a TF import each).
# A `setdefault` of a key this environment has writes nothing either (an xdist worker that imported
# adapters.base has KERAS_BACKEND: its Keras scripts had a process of their own, ~4.6 s of CPU).
FRAMEWORK_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "1", "KERAS_BACKEND": "tensorflow"}


def _environment(path) -> tuple[tuple[str, str, str], ...]:
    """The switches a script writes, as (how, key, value), logging levels aside: scripts that write
    the same ones, whatever their framework, share processes, with them set before the first import."""
    writes = set()
    for match in _ENV_WRITE.finditer(path.read_text(encoding="utf-8")):
        default_key, default, set_key, value, popped = match.groups()
        how, key = ("setdefault", default_key) if default_key else ("set", set_key) if set_key else ("pop", popped)
        value = default if default_key else value or ""
        if how == "setdefault" and (key in os.environ or FRAMEWORK_DEFAULTS.get(key) == value):
            continue  # a no-op: this environment has the key (`python script.py` too), or the shared processes set it
        if key not in reproducer_batch.QUIET:
            writes.add((how, key, value))
    return tuple(sorted(writes))


def _param(path):
    framework, _ = _header(path)
    # one xdist worker runs a group: its scripts share processes
    group = ":".join(["repro", *(f"{how}:{key}={value}" for how, key, value in _environment(path))])
    return pytest.param(path, id=path.name, marks=[getattr(pytest.mark, framework), pytest.mark.xdist_group(group)])


def test_there_are_reproducers() -> None:
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", [_param(p) for p in SCRIPTS])
def test_reproducer_still_reproduces(path) -> None:
    framework, _ = _header(path)
    reason = _skip_reason(path)
    if reason:
        pytest.skip(reason)
    version = installed_version(framework) or "0"
    status, out, err = _shared_verdict(path)
    if status != 1:  # a verdict from a shared process is confirmed alone before it fails the test
        status, out, err = _alone(path)
    # a script that dies (an ImportError, a changed API) would exit 1 too: that is not the discrepancy
    assert status != 3, f"{path.name} crashed:\n{err[-2000:]}"
    assert status == 1, f"no longer reproduces on {framework} {version}:\n{out}\n{err[-2000:]}"


def _skip_reason(path) -> str | None:
    """Why the script cannot run here: its framework missing or outside its versions, or a CPU feature."""
    framework, versions = _header(path)
    if not _installed(framework):
        return f"{framework} is not installed"
    version = installed_version(framework) or "0"
    if versions and Version(version) not in SpecifierSet(versions):
        return f"{framework} {version} is outside {versions}"
    feature = _requires(path)
    if feature and not machine.has(feature):
        return f"needs a CPU with {feature}"
    return None


_VERDICTS: dict[Path, tuple[int, str, str]] = {}
_GROUPS_RUN: set[tuple[tuple[str, str, str], ...]] = set()


def _shared_verdict(path) -> tuple[int | None, str, str]:
    """The script's status from one process shared with the runnable scripts of its group (run once,
    on the first of them this worker meets); None when that process could not vouch for it."""
    environment = _environment(path)
    if environment not in _GROUPS_RUN:
        _GROUPS_RUN.add(environment)
        group = [p for p in SCRIPTS if _environment(p) == environment and not _skip_reason(p)]
        # a framework that must be imported before another (Paddle before TensorFlow) runs first: after
        # a TensorFlow script its import would kill the process, and the rest would import all again
        group.sort(key=lambda p: _header(p)[0] not in IMPORT_BEFORE)
        _VERDICTS.update(_run_shared(group, environment))
    return _VERDICTS.pop(path, (None, "", ""))


def _run_shared(paths, environment) -> dict[Path, tuple[int, str, str]]:
    """Verdicts of the scripts run one after another in shared processes. A script that kills its
    process (a segfault, `os._exit`) gets none and runs alone; the ones after it go on in a new one."""
    written = {key for _, key, _ in environment}  # a group writing one of them sets its own value
    env = {**{k: v for k, v in FRAMEWORK_DEFAULTS.items() if k not in written}, **os.environ}
    for how, key, value in environment:  # as the scripts would, before anything is imported
        if how == "set" or (how == "setdefault" and key not in env):
            env[key] = value
        elif how == "pop":
            env.pop(key, None)
    verdicts, left = {}, list(paths)
    while left:
        results = _one_shared_process(left, env)
        verdicts.update({p: (r["status"], r["stdout"], r["stderr"]) for p in left
                         if (r := results.get(str(p))) is not None and not r["alone"]})
        left = left[len(results) + 1:]  # past the finished ones and the one that ended the process
    return verdicts


def _one_shared_process(paths, env) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "verdicts.json"
        try:
            subprocess.run([sys.executable, str(Path(reproducer_batch.__file__)), str(out), *map(str, paths)],
                           capture_output=True, text=True, timeout=120 * len(paths), cwd=REPO, env=env)
        except subprocess.TimeoutExpired:
            pass  # the scripts it finished have their verdicts
        return json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}


def _alone(path) -> tuple[int, str, str]:
    """The script in a process of its own, as `python script.py`."""
    done = subprocess.run([sys.executable, "-c", _UNCAUGHT_EXITS_3, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    return done.returncode, done.stdout, done.stderr


# Runs a reproducer as `python script.py` would, except that an exception nobody caught exits 3
# (Python's own status for it is 1, the reproducers' "still there"); a framework that logs a
# traceback it caught itself (tf2onnx does) changes nothing.
_UNCAUGHT_EXITS_3 = """
import os, runpy, sys, traceback
def _crashed(*exception):
    traceback.print_exception(*exception)
    sys.stderr.flush()
    os._exit(3)
sys.excepthook = _crashed
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_shared_processes_vouch_only_for_what_they_can(tmp_path) -> None:
    """Statuses as `python script.py` gives them; a switch the script writes itself (here through a
    name the static reading cannot see) or a process it kills leaves it to run alone, and the
    scripts after a killed process still get their verdicts."""
    scripts = {
        "still_there.py": "import sys\nprint('found')\nsys.exit(1)",
        "fixed.py": "print('fine')",
        "crashes.py": "raise ValueError('changed API')",
        "writes_a_switch.py": "import os, sys\nkey = 'TF_ENABLE_' + 'ONEDNN_OPTS'\nos.environ[key] = 'x'\nsys.exit(1)",
        "framework_writes.py": f"import sys\nsys.path.append({str(tmp_path / 'lib')!r})\nimport fakework\nsys.exit(1)",
        "logs_quietly.py": "import os, sys\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nsys.exit(1)",
        "kills_its_process.py": "import os\nos._exit(1)",
        "after_the_kill.py": "import sys\nsys.exit(1)",
    }
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fakework.py").write_text("import os\nos.environ['FAKEWORK_PLATFORM'] = '2.0'\n", encoding="utf-8")
    paths = []
    for name, text in scripts.items():
        paths.append(tmp_path / name)
        paths[-1].write_text(text, encoding="utf-8")
    verdicts = {p.name: status for p, (status, _, _) in _run_shared(paths, ()).items()}
    assert verdicts == {"still_there.py": 1, "fixed.py": 0, "crashes.py": 3, "framework_writes.py": 1,
                        "logs_quietly.py": 1, "after_the_kill.py": 1}
    assert _shared_verdict.__doc__ and _alone(paths[3])[0] == 1


def test_switches_a_script_writes_group_it() -> None:
    eigen = [p.name for p in SCRIPTS if ("set", "TF_ENABLE_ONEDNN_OPTS", "0") in _environment(p)]
    assert "tensorflow_eigen_dilation.py" in eigen and "tensorflow_float16_eigen_accumulation.py" in eigen
    assert _environment(REPO / "cases" / "repro" / "onnx_output_shape_notset.py") == ()
    capped = _environment(REPO / "cases" / "repro" / "tensorflow_onednn_isa_cap.py")
    assert ("set", "ONEDNN_MAX_CPU_ISA", "AVX2") in capped and ("pop", "TF_ENABLE_ONEDNN_OPTS", "") in capped


def test_a_setdefault_that_writes_nothing_keeps_a_script_in_the_default_processes(tmp_path, monkeypatch) -> None:
    """`os.environ.setdefault(K, V)` changes nothing where K is set already (as in an xdist worker that
    imported adapters.base, which sets KERAS_BACKEND) or where the shared processes set K to V; where
    neither holds it is a switch, and the script gets processes of its own."""
    script = tmp_path / "sets_defaults.py"
    script.write_text('import os\nos.environ.setdefault("KERAS_BACKEND", "tensorflow")\n'
                      'os.environ.setdefault("TCONV_TEST_SWITCH", "1")\n', encoding="utf-8")
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv("TCONV_TEST_SWITCH", raising=False)
    assert _environment(script) == (("setdefault", "TCONV_TEST_SWITCH", "1"),)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("TCONV_TEST_SWITCH", "2")  # set already: the script's setdefault keeps it
    assert _environment(script) == ()
    assert _environment(REPO / "cases" / "repro" / "empty_tensors.py") == ()
