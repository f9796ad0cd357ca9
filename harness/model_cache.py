"""Converted models kept on disk between runs: a converter's output for a layer, made once.

The conversion paths convert one model per case (the dynamo exporter ~0.3 s, the TFLite converter
~0.08 s, tf2onnx ~0.05 s alone on a 2-core EPYC; in batches less), most of a first run's time, and the same
layer gives the same bytes every time. So, like JAX's compilation cache, the bytes are kept in
tconv's user cache folder (`harness.machine.cache_root() / "models"`) and the runtime runs them
as it would run a fresh conversion. The key holds everything the bytes depend on:

- the adapter's name and the route's own details (the Keras padding word, the input's shape);
- the layer: kernel and bias values, stride, padding, output_padding, dilation, groups,
  output_shape, dtype, the input's shape (not its values: a converter sees a placeholder);
- tconv's code that makes the layer (`adapters/`, the case and its dtypes: an edit converts again);
- the versions of the packages a conversion runs (PyTorch, onnxscript, TensorFlow, tf2onnx, ...);
- the CPU (`machine.fingerprint`) and the path switches (`TF_ENABLE_ONEDNN_OPTS`, ...): a
  converter may fold constants with this CPU's kernels. Not the thread count (`OMP_NUM_THREADS`):
  no converter writes other bytes for it, and Paddle's import sets it to 1 in its process, so a
  pytest session (every framework in one process) and `tconv run` (a process per family) would
  otherwise never share a model.

A conversion the converter refuses is kept as its failure (`<key>.err`: the exception's type
name, words and the function that raised it), so a later run's row says word for word what the
fresh one said without converting again (a warm run exported the PyTorch exporters' refusals
again, in `prepare` and in the row: ~4 s here). A failure of the machine or the installation
rather than of the layer (out of memory, a disk or OS error, an import, a recursion limit, a
missing attribute or name) is never kept. A file is written
whole (a temporary file, then a rename) with its SHA-256 in front, and one that does not match is
converted again; past 1 GiB the longest unused go (`prune`, after a `tconv run`, at most hourly).
`TCONV_MODEL_CACHE=0` (`tconv run --no-cache`) turns it off; an unwritable folder just converts.
The fuzzer (random layers, never seen again) and `tconv bench` (which times conversions) run
without it. The report is the same with or without it (`tests/test_model_cache.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

import numpy as np

from harness import machine
from harness.case import Case, array_bytes

SWITCH = "TCONV_MODEL_CACHE"
JAX_SWITCH = "TCONV_JAX_CACHE"  # adapters.jax_lax's compilation cache
# Distributions whose code runs in a conversion (or shapes what it writes); absent ones are skipped.
CONVERSION_PACKAGES = ("torch", "onnxscript", "onnx", "onnx-ir", "tensorflow", "tensorflow-cpu", "keras", "tf-keras",
                       "tf2onnx", "ml-dtypes", "numpy", "protobuf", "flatbuffers")
# tconv's code that decides what a converter is given: the adapters and the case they read.
MAX_BYTES = 1 << 30  # what `prune` keeps of the folder: the built-in suite's models are ~10 MB a set
_CODE = ("adapters/*.py", "harness/case.py", "harness/casefile.py", "harness/dtypes.py")


def enabled() -> bool:
    """False when `TCONV_MODEL_CACHE` says 0/false/off/no."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


@contextlib.contextmanager
def disabled(*, jax: bool = False) -> Iterator[None]:
    """No model cache inside (and no JAX compilation cache with `jax`): the fuzzer's layers never
    come back, the bench times conversions, `tconv run --no-cache` wants both off."""
    with machine.switched(dict.fromkeys([SWITCH, *([JAX_SWITCH] if jax else [])], "0")):
        yield


def folder() -> Path:
    return machine.cache_root() / "models"


@cache
def _code_digest() -> str:
    """The adapters' code and the case's, as a digest of their sources (an edit converts again)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for pattern in _CODE:
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _versions() -> str:
    found = []
    for name in CONVERSION_PACKAGES:
        try:
            found.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ";".join(found)


_NOT_IN_THE_BYTES = ("OMP_NUM_THREADS",)  # path switches no converter's output depends on (module docstring)


def _switches() -> list[tuple[str, str]]:
    """The path switches set here that a converter's bytes may depend on, in a fixed order."""
    return sorted((name, value) for name, value in machine.switches().items() if name not in _NOT_IN_THE_BYTES)


def layer_key(adapter: str, case: Case, extra: Iterable[object] = ()) -> str:
    """The key of one conversion: see the module docstring for what goes in."""
    digest = hashlib.sha256()
    fields = (adapter, case.dtype, np.shape(case.input), case.stride, case.padding, case.output_padding,
              case.dilation, case.groups, case.output_shape, case.output_shape_rule, tuple(map(repr, extra)),
              _versions(), _code_digest(), machine.fingerprint(), _switches())
    digest.update(repr(fields).encode("utf-8"))
    for values in (case.kernel, case.bias):
        digest.update(array_bytes(values))
    return digest.hexdigest()


def kept(adapter: str, key: str) -> bool:
    """Whether a run converted this `layer_key` before (a model or a refusal) and the cache would
    give it: nothing is left to convert ahead for it."""
    return enabled() and (_path(adapter, key).is_file() or _path(adapter, key, FAILED).is_file())


FAILED = ".err"  # a kept refusal, beside the models' `.bin`
# Failures of the machine or of the installation, not of the layer: another run may well convert it.
_NOT_THE_LAYERS = (MemoryError, OSError, ImportError, RecursionError, AttributeError, NameError)
_OUT_OF_MEMORY = ("OutOfMemoryError", "ResourceExhaustedError")  # PyTorch's and TensorFlow's, by name


def _path(adapter: str, key: str, suffix: str = ".bin") -> Path:
    return folder() / adapter / f"{key}{suffix}"


class KeptFailure(Exception):
    """A refusal read back from the cache. Raised as a subclass named as the fresh exception was,
    with its words, and `raised_in` the function that raised it (what `runner._failure` quotes)."""

    raised_in = ""


def raised_in(error: BaseException) -> str:
    """The function that raised `error` (a kept refusal's, as its fresh one said), or ''."""
    if isinstance(error, KeptFailure):
        return error.raised_in
    frames = traceback.extract_tb(error.__traceback__)
    return frames[-1].name if frames else ""


@cache
def _failure_class(name: str) -> type[KeptFailure]:
    return type(name, (KeptFailure,), {})


def _replayed(record: dict[str, str]) -> KeptFailure:
    failure = _failure_class(record["type"])(record["text"])
    failure.raised_in = record["raised_in"]
    return failure


def _record(error: Exception) -> bytes | None:
    """The refusal as kept, or None when it is not the layer's (see `_NOT_THE_LAYERS`) or has no words."""
    if isinstance(error, _NOT_THE_LAYERS) or type(error).__name__ in _OUT_OF_MEMORY:
        return None
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - an exception whose words cannot be had is not kept
        return None
    return json.dumps({"type": type(error).__name__, "text": text, "raised_in": raised_in(error)}).encode("utf-8")


def converted(adapter: str, case: Case, convert: Callable[[], bytes], *, extra: Iterable[object] = ()) -> bytes:
    """`convert()`'s bytes for this layer: from the cache when a run made them before, else made
    now and kept; a refusal kept before is raised again (`KeptFailure`), a fresh one kept."""
    if not enabled():
        return convert()
    key = layer_key(adapter, case, extra)
    path, failed = _path(adapter, key), _path(adapter, key, FAILED)
    model = _read(path)
    if model is not None:
        _touch(path)
        return model
    refusal = _read(failed)
    if refusal is not None:
        try:
            failure = _replayed(json.loads(refusal))
        except (ValueError, KeyError, TypeError):  # a record this code cannot read: convert again
            pass
        else:
            _touch(failed)
            raise failure
    try:
        model = convert()
    except Exception as error:
        record = _record(error)
        if record is not None:
            _write(failed, record)
        raise
    _write(path, model)
    with contextlib.suppress(OSError):
        os.unlink(failed)  # an unreadable record of an earlier run: the model answers now
    return model


def _touch(path: Path) -> None:
    """Last used now: `prune` drops the longest unused first."""
    with contextlib.suppress(OSError):
        os.utime(path)


PRUNE_EVERY = 3600.0  # seconds between two prunes of `tconv run`: a stat of every kept file each time
# cost ~0.45 s at the end of each run here with 34,000 files (stale sets under the bound stay until it)


def prune_now_and_then(*, every: float = PRUNE_EVERY) -> int:
    """`prune()` when the last one was at least `every` seconds ago (a stamp file in the cache folder
    says when), else nothing: what `tconv run` calls after each run. Returns how many files went."""
    stamp = machine.cache_root() / ".pruned"
    with contextlib.suppress(OSError):
        if 0 <= time.time() - stamp.stat().st_mtime < every:  # a stamp from the future (a clock set back) prunes
            return 0
    removed = prune()
    with contextlib.suppress(OSError):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    return removed


def prune(*, max_bytes: int = MAX_BYTES) -> int:
    """Delete the longest unused models until the folder holds at most `max_bytes` (every edit of
    an adapter or upgrade of a framework starts a new set), and the oldest JAX executables past
    `max_bytes` of theirs (JAX's own size bound trips on entries it wrote without one, and a JAX
    batch's key changes with the cases a run chose); returns how many went. A file another run
    deletes meanwhile is simply gone."""
    return (_prune_files(_files(folder(), (".bin", FAILED)), max_bytes)
            + _prune_files(_files(machine.cache_root() / "jax"), max_bytes))


def _files(root: Path, suffixes: tuple[str, ...] = ()) -> Iterator[tuple[float, int, str]]:
    """(modification time, size, path) of the files one folder below `root` (with these suffixes, or
    any), read with `os.scandir` (pathlib's glob and stat took twice as long on 34,000 files)."""
    with contextlib.suppress(OSError), os.scandir(root) as folders:
        for sub in folders:
            if not sub.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError), os.scandir(sub.path) as entries:
                for entry in entries:
                    wanted = entry.name.endswith(suffixes) if suffixes else True
                    if wanted and entry.is_file(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            stat = entry.stat(follow_symlinks=False)
                            yield stat.st_mtime, stat.st_size, entry.path


def _prune_files(files: Iterable[tuple[float, int, str]], max_bytes: int) -> int:
    """Delete the files with the oldest modification time until the rest hold at most `max_bytes`."""
    entries = sorted(files)
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, path in entries:
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed += 1
        total -= size
    return removed


def _read(path: Path) -> bytes | None:
    """The kept bytes, or None when absent, unreadable or not matching their checksum."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    checksum, model = data[:32], data[32:]
    return model if hashlib.sha256(model).digest() == checksum else None


def _write(path: Path, model: bytes) -> None:
    """Write whole or not at all (a concurrent run reads either nothing or the full file)."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(handle, "wb") as out:
            out.write(hashlib.sha256(model).digest() + model)
        os.replace(temporary, path)
    except OSError:  # a read-only or full cache folder: the run goes on without keeping it
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
