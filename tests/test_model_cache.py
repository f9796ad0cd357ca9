"""Converted models kept between runs (`harness.model_cache`): the key follows everything a model
depends on, a bad or missing file converts again, a refusal is kept as the row's words and a failure
of the machine never, and a run from the cache writes the report a fresh conversion writes."""

from __future__ import annotations

import dataclasses
import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

from harness import machine, model_cache
from harness.casefile import load_cases
from harness.report import read_report
from tests.conftest import REPO

SEED = next(c for c in load_cases([REPO / "cases" / "padding.yaml"]) if c.bias is not None)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TCONV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(model_cache.SWITCH, raising=False)
    return tmp_path / "cache"


class Converter:
    """A conversion that counts its calls (the bytes say which layer and call made them)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"model {self.calls}".encode()


@pytest.mark.parametrize("change", [
    {"kernel": SEED.kernel + 1e-7}, {"bias": None}, {"bias": SEED.bias * 2}, {"stride": (3,) * SEED.rank},
    {"dilation": (2,) * SEED.rank}, {"output_padding": (1,) * SEED.rank}, {"groups": 2}, {"dtype": "float64"},
    {"output_shape": (9,) * SEED.rank}, {"output_shape_rule": "onnx"}, {"input": np.zeros((1, *SEED.input.shape[1:]))},
], ids=lambda change: next(iter(change)))
def test_every_part_of_the_layer_is_in_the_key(change: dict) -> None:
    assert model_cache.layer_key("a", dataclasses.replace(SEED, **change)) != model_cache.layer_key("a", SEED)


def test_the_key_follows_the_route_not_the_input_values_or_the_case_name() -> None:
    key = model_cache.layer_key("a", SEED)
    assert model_cache.layer_key("b", SEED) != key
    assert model_cache.layer_key("a", SEED, extra=("same",)) != model_cache.layer_key("a", SEED, extra=("valid",))
    renamed = dataclasses.replace(SEED, id="other", file="other.yaml", input=SEED.input + 1.0)
    assert model_cache.layer_key("a", renamed) == key  # a converter sees a placeholder, not the values


def test_the_key_follows_the_path_switches(monkeypatch) -> None:
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    key = model_cache.layer_key("a", SEED)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert model_cache.layer_key("a", SEED) != key


def test_a_thread_count_is_not_in_the_key_and_paddles_import_changes_nothing(monkeypatch) -> None:
    """No converter writes other bytes for another thread count, and Paddle's import sets
    OMP_NUM_THREADS=1 in its process: a pytest session (Paddle imported beside the converters) and a
    `tconv run` (a process per family) must find each other's models."""
    import subprocess
    import sys

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    key = model_cache.layer_key("a", SEED)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert model_cache.layer_key("a", SEED) == key
    assert "OMP_NUM_THREADS" in machine.PATH_SWITCHES  # still a path switch of the report's header
    if importlib.util.find_spec("paddle") is not None:
        code = ("import os\nfrom harness.casefile import load_cases\nfrom harness import model_cache\n"
                "case = next(c for c in load_cases(['cases/padding.yaml']) if c.bias is not None)\n"
                "before = model_cache.layer_key('a', case)\nimport paddle\n"
                "print(os.environ.get('OMP_NUM_THREADS'), before == model_cache.layer_key('a', case))\n")
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                              env=env)
        # the words before it: OMP_NUM_THREADS as Paddle left it ('1' with Paddle 3.x)
        assert done.stdout.split()[-1:] == ["True"], (done.stdout, done.stderr[-1500:])


def test_a_kept_model_is_read_back_and_a_corrupt_one_converted_again(cache_dir) -> None:
    convert = Converter()
    assert model_cache.converted("a", SEED, convert) == b"model 1"
    assert model_cache.converted("a", SEED, convert) == b"model 1" and convert.calls == 1
    (path,) = (cache_dir / "models" / "a").glob("*.bin")
    path.write_bytes(path.read_bytes()[:-1] + b"X")  # one byte changed
    assert model_cache.converted("a", SEED, convert) == b"model 2"
    assert model_cache.converted("a", SEED, convert) == b"model 2" and convert.calls == 2
    assert model_cache.converted("b", SEED, convert) == b"model 3"  # another route, another model


def _refuse_in_converter(case) -> bytes:  # noqa: ANN001
    raise ValueError(f"Invalid value for argument `filters`: {case.kernel.shape[1]}\n  (second line)")


def test_a_refused_conversion_is_kept_and_told_again_word_for_word(cache_dir) -> None:
    from harness.runner import _failure

    def convert() -> bytes:
        calls.append(1)
        return _refuse_in_converter(SEED)

    calls, messages = [], []
    for _ in range(3):
        with pytest.raises(ValueError if not calls else Exception) as raised:
            model_cache.converted("a", SEED, convert)
        messages.append(_failure(raised.value))
    assert len(calls) == 1, "a kept refusal converted again"
    assert messages[0] == messages[1] == messages[2]
    assert messages[0].startswith("ValueError: Invalid value for argument `filters`:")
    assert messages[0].endswith("(second line) (at _refuse_in_converter)")
    assert model_cache.kept("a", model_cache.layer_key("a", SEED)), "prepare would convert it ahead again"
    assert not list(cache_dir.rglob("*.bin")) and not list(cache_dir.rglob(".part-*"))
    assert model_cache.converted("b", SEED, Converter()) == b"model 1"  # another route converts its own


@pytest.mark.parametrize("error", [MemoryError(), OSError(28, "No space left on device"),
                                   ImportError("no module named onnxscript"), RecursionError()],
                         ids=lambda error: type(error).__name__)
def test_a_failure_of_the_machine_is_not_kept(cache_dir, error) -> None:
    def failing() -> bytes:
        raise error

    with pytest.raises(type(error)):
        model_cache.converted("a", SEED, failing)
    assert not list(cache_dir.rglob("*.*")) and not model_cache.kept("a", model_cache.layer_key("a", SEED))
    assert model_cache.converted("a", SEED, Converter()) == b"model 1"


@pytest.mark.parametrize("damage", ["a byte changed", "a record this code cannot read"])
def test_a_damaged_kept_refusal_converts_again_and_goes(cache_dir, damage) -> None:
    with pytest.raises(ValueError):
        model_cache.converted("a", SEED, lambda: _refuse_in_converter(SEED))
    (path,) = (cache_dir / "models" / "a").glob("*.err")
    if damage == "a byte changed":
        path.write_bytes(path.read_bytes()[:-1] + b"X")
    else:
        model_cache._write(path, b'["not", "a", "record"]')  # its checksum holds
    assert model_cache.converted("a", SEED, Converter()) == b"model 1"
    assert not path.exists(), "the refusal stayed beside the model"


class _OutOfMemoryError(RuntimeError):
    """As PyTorch names its own (a RuntimeError: matched by name)."""


_OutOfMemoryError.__name__ = "OutOfMemoryError"


class _NoWords(ValueError):
    def __str__(self) -> str:
        raise RuntimeError("no words")


@pytest.mark.parametrize("error", [_OutOfMemoryError("CPU out of memory"), AttributeError("no attribute 'x'"),
                                   _NoWords()], ids=lambda error: type(error).__name__)
def test_out_of_memory_a_broken_installation_or_an_exception_without_words_is_not_kept(cache_dir, error) -> None:
    def failing() -> bytes:
        raise error

    with pytest.raises(type(error)):
        model_cache.converted("a", SEED, failing)
    assert not list(cache_dir.rglob("*.err"))


def test_switched_off_or_unwritable_it_just_converts(cache_dir, monkeypatch) -> None:
    convert = Converter()
    with model_cache.disabled(jax=True):
        assert os.environ["TCONV_JAX_CACHE"] == "0"
        model_cache.converted("a", SEED, convert)
        model_cache.converted("a", SEED, convert)
    assert convert.calls == 2 and not cache_dir.exists()
    assert "TCONV_JAX_CACHE" not in os.environ or os.environ["TCONV_JAX_CACHE"] != "0"
    cache_dir.parent.joinpath("file").write_text("")
    monkeypatch.setenv("TCONV_CACHE_DIR", str(cache_dir.parent / "file"))  # a file where the folder should be
    assert model_cache.converted("a", SEED, convert) == b"model 3"


def _rows(path) -> pd.DataFrame:  # noqa: ANN001
    """A report's rows without timings and the run's own environment (its command and time)."""
    frame = read_report(path)[0]
    return frame.drop(columns=["time_ms", *(c for c in frame.columns if c.startswith("env_"))])


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("torch") is None,
                    reason="needs PyTorch and ONNX Runtime (torch.onnx_export)")
def test_a_run_from_the_cache_writes_the_fresh_runs_report(cache_dir, tconv, tmp_path) -> None:
    # Both PyTorch exporters: the dynamo one converts ahead in batches (`prepare`), which the cache must skip;
    # the empty tensors' layers are refused by the exporters, which the cache keeps as their words. The first
    # run finds the cache empty: it converts everything, as `--no-cache` would (that switch: the test below).
    args = [REPO / "cases" / "seeds.yaml", REPO / "cases" / "empty.yaml", "--adapters",
            "torch.onnx_export,torch.onnx_dynamo", "--formats", "csv", "--quiet", "--jobs", "2"]
    status, _, err = tconv("run", *args, "--out", tmp_path / "cold")
    assert status in (0, 1), err
    kept = sorted([*cache_dir.rglob("*.bin"), *cache_dir.rglob("*.err")])
    assert {p.parent.name for p in kept} == {"torch.onnx_export", "torch.onnx_dynamo"}
    assert any(p.suffix == ".err" for p in kept), "no refusal was kept"
    inodes = [p.stat().st_ino for p in kept]  # a model converted again is a new file renamed over the old
    tconv("run", *args, "--out", tmp_path / "warm")
    assert sorted([*cache_dir.rglob("*.bin"), *cache_dir.rglob("*.err")]) == kept
    assert [p.stat().st_ino for p in kept] == inodes
    cold, warm = (_rows(tmp_path / name / "report.csv") for name in ("cold", "warm"))
    assert (cold["status"] == "pass").sum() > 5
    refused = cold["message"].str.contains("weight of size", na=False)  # the exporters' own words
    assert refused.sum() >= 2, cold["message"].tolist()
    pd.testing.assert_frame_equal(warm, cold)


CONVERTING_PLUGIN = """
from adapters.base import Adapter
from harness import model_cache
from harness.dtypes import numpy_dtype
from harness.oracle import conv_transpose


class Converting(Adapter):
    \"\"\"Keeps a stand-in model per layer through the cache, as a converter's adapter does, in its worker.\"\"\"

    name, framework = "test.converting", "test"

    def run(self, case):
        model_cache.converted(self.name, case, lambda: b"model")
        return conv_transpose(case.input, case.kernel, **case.oracle_kwargs()).astype(numpy_dtype(case.dtype))


ADAPTERS = (Converting(),)
"""


def test_no_cache_reaches_the_workers(cache_dir, tconv, tmp_path) -> None:
    """`tconv run --no-cache` keeps nothing: the switch reaches the worker processes that convert."""
    plugin = tmp_path / "converting.py"
    plugin.write_text(CONVERTING_PLUGIN, encoding="utf-8")
    args = ["run", REPO / "cases" / "seeds.yaml", "--frameworks", "test", "--plugin", plugin, "--formats", "csv",
            "--quiet", "--jobs", "2"]
    status, _, err = tconv(*args, "--no-cache", "--out", tmp_path / "fresh")
    assert status == 0, err
    assert not cache_dir.exists(), "--no-cache kept something"
    status, _, err = tconv(*args, "--out", tmp_path / "kept")
    assert status == 0, err
    assert list(cache_dir.rglob("test.converting/*.bin")), "the plugin's worker kept nothing without --no-cache"
    pd.testing.assert_frame_equal(*(_rows(tmp_path / name / "report.csv") for name in ("fresh", "kept")))


def test_the_key_follows_the_adapters_code_and_nothing_else_of_tconvs(monkeypatch, tmp_path) -> None:
    from pathlib import Path

    root = Path(model_cache.__file__).resolve().parent.parent
    digests = {}
    for changed in ("adapters/pytorch.py", "harness/case.py", "harness/runner.py"):
        copy = tmp_path / changed.replace("/", "_")
        for pattern in ("adapters/*.py", "harness/*.py"):
            for path in root.glob(pattern):
                target = copy / path.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes() + (b"\n# edited\n" if path.relative_to(root).as_posix() == changed else b""))
        (copy / "harness" / "model_cache.py").write_bytes(Path(model_cache.__file__).read_bytes())
        monkeypatch.setattr(model_cache, "__file__", str(copy / "harness" / "model_cache.py"))
        model_cache._code_digest.cache_clear()
        digests[changed] = model_cache._code_digest()
    monkeypatch.undo()
    model_cache._code_digest.cache_clear()
    original = model_cache._code_digest()
    assert digests["adapters/pytorch.py"] != original and digests["harness/case.py"] != original
    assert digests["harness/runner.py"] == original  # the runner judges; it does not make the layer


def test_prune_drops_the_longest_unused_models_first(cache_dir) -> None:
    converters = {name: Converter() for name in "abcd"}
    for offset, name in enumerate("abcd"):
        model_cache.converted(name, SEED, converters[name])
        path = next((cache_dir / "models" / name).glob("*.bin"))
        os.utime(path, (1_000_000 + offset, 1_000_000 + offset))  # a, b, c, d: oldest first
    model_cache.converted("a", SEED, converters["a"])  # read: a is the most recently used now
    size = next((cache_dir / "models" / "a").glob("*.bin")).stat().st_size
    assert model_cache.prune(max_bytes=2 * size) == 2
    assert sorted(p.parent.name for p in cache_dir.rglob("*.bin")) == ["a", "d"]
    assert model_cache.prune(max_bytes=2 * size) == 0
    with pytest.raises(ValueError):  # a kept refusal is pruned as a model is
        model_cache.converted("e", SEED, lambda: _refuse_in_converter(SEED))
    (refusal,) = cache_dir.rglob("*.err")
    os.utime(refusal, (999_999, 999_999))
    assert model_cache.prune(max_bytes=2 * size) == 1 and not refusal.exists()


def test_a_run_prunes_at_most_once_an_interval(cache_dir, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(model_cache, "prune", lambda: calls.append(1) or 3)
    assert model_cache.prune_now_and_then(every=3600) == 3 and len(calls) == 1  # no stamp yet: prunes
    assert model_cache.prune_now_and_then(every=3600) == 0 and len(calls) == 1  # pruned a moment ago
    stamp = cache_dir / ".pruned"
    os.utime(stamp, (stamp.stat().st_mtime - 3601,) * 2)
    assert model_cache.prune_now_and_then(every=3600) == 3 and len(calls) == 2  # an hour later: again
    os.utime(stamp, (stamp.stat().st_mtime + 86400,) * 2)
    assert model_cache.prune_now_and_then(every=3600) == 3 and len(calls) == 3  # a stamp from the future


def test_prune_drops_the_oldest_jax_executables_past_the_bound(cache_dir) -> None:
    folder = cache_dir / "jax" / "0.0-cpu"
    folder.mkdir(parents=True)
    for offset, name in enumerate("abcd"):
        path = folder / f"jit_{name}-cache"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1_000_000 + offset, 1_000_000 + offset))
    assert model_cache.prune(max_bytes=250) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["jit_c-cache", "jit_d-cache"]
