"""The one interface every adapter has, and the small helpers they share.

An adapter translates a canonical case into one framework call and the result back: a name, its
framework, `supports(case)` (a reason it cannot run the case, or None) and `run(case)` (the
canonical-layout result, in the dtype the framework returned). It never computes the answer
another way. Frameworks are imported lazily, once per process, on first use.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import ClassVar, TypeVar

import numpy as np

from harness.case import Case
from harness.dtypes import numpy_dtype

T = TypeVar("T")
R = TypeVar("R")

# Which importable module stands for each framework, and the distributions whose versions
# describe it (the first one that is installed names the version).
FRAMEWORK_MODULES = {
    "numpy": "numpy",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "openvino": "openvino",
    "paddle": "paddle",
    "litert": "ai_edge_litert",
    "mlx": "mlx.core",
    "tinygrad": "tinygrad",
}


@cache
def framework_installed(framework: str) -> bool:
    """Whether the framework can be imported here (checked without importing it); a plugin's
    own framework is there when its adapter is."""
    module = FRAMEWORK_MODULES.get(framework)
    return module is None or module_installed(module)  # `mlx.core` without mlx: not installed


# Set before a framework's first import: quiet TensorFlow's C++ logging, Keras on TensorFlow.
IMPORT_ENVIRONMENT = {
    "tensorflow": {"TF_CPP_MIN_LOG_LEVEL": "2"},
    "keras": {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"},
}


@contextmanager
def _quiet_native_stderr(quiet: bool):
    """Silence what native code writes to fd 2 while a framework loads (TensorFlow's absl and
    oneDNN banners ignore TF_CPP_MIN_LOG_LEVEL); Python exceptions are unaffected."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# Frameworks that crash when imported into a process that has already loaded another one
# (measured: `import tensorflow; import paddle` is a SIGSEGV with TensorFlow 2.21 and Paddle 3.3.1;
# the other order works). `import_first` loads them before anything else in one process.
IMPORT_BEFORE = {"paddle": ("tensorflow",)}


def import_first(frameworks: Iterable[str]) -> None:
    """Import the frameworks of IMPORT_BEFORE among `frameworks` now, while what they must
    precede is not loaded yet (a process that runs adapters of several frameworks in turn)."""
    frameworks = set(frameworks)
    for framework, before in IMPORT_BEFORE.items():
        if framework in frameworks and framework_installed(framework) and not any(b in sys.modules for b in before):
            import_framework(FRAMEWORK_MODULES[framework])


@cache
def import_framework(module: str) -> ModuleType:
    """Import a framework module once per process (TensorFlow alone takes seconds)."""
    loaded_too_late = [b for b in IMPORT_BEFORE.get(module, ()) if b in sys.modules]
    if loaded_too_late and module not in sys.modules:
        raise ImportError(f"{module} crashes (SIGSEGV) when imported after {', '.join(loaded_too_late)} in one "
                          f"process; tconv run gives each framework its own worker, and in-process runs import "
                          f"{module} first (adapters.base.import_first)")
    for key, value in IMPORT_ENVIRONMENT.get(module, {}).items():
        os.environ.setdefault(key, value)
    with _quiet_native_stderr(module in IMPORT_ENVIRONMENT):
        return importlib.import_module(module)


def probe_error(run: Callable[[Case], object], dtype: str, rank: int = 2) -> Exception | None:
    """What `run` raises on a tiny case of this dtype and rank, or None when it runs: how an adapter
    asks once whether its framework (or converter) carries a dtype at all, to say so in its words."""
    from harness.casefile import case_from_mapping

    probe = case_from_mapping({"id": "probe", "rank": rank, "batch": 1, "in_channels": 1, "out_channels": 1,
                               "input_size": 2, "kernel_size": 2, "stride": 2, "dtype": dtype, "seed": 0})
    try:
        run(probe)
    except Exception as error:  # noqa: BLE001 - the caller turns the framework's words into a reason
        return error
    return None


class Adapter(ABC):
    """A framework entry point, seen through the canonical case."""

    name: ClassVar[str]
    framework: ClassVar[str]
    # How the case reaches what computes it when that is not the framework's own call: a
    # conversion path (`conversion: exporter -> runtime`); '' for a native runtime. Reports
    # group the two apart: a wrong answer there is the converter's as much as the runtime's.
    route: ClassVar[str] = ""
    # Modules beside the framework's own that must be importable for the adapter to run, such as
    # a converter that lives in its own tox env (`onnx2tf`, `nobuco`): checked without importing
    # them; an adapter missing one is not installed (`missing_requirements`) and no run selects it.
    requires: ClassVar[tuple[str, ...]] = ()

    def version(self) -> str:
        """The framework version this adapter runs (what known discrepancies match against)."""
        if self.framework not in FRAMEWORK_MODULES:  # a plugin's own framework: it may say, or not
            return "unknown"
        module = import_framework(FRAMEWORK_MODULES[self.framework])
        return str(getattr(module, "__version__", "unknown"))

    def supports(self, case: Case) -> str | None:
        """Why the framework cannot express this case, or None when it can."""
        return None

    @abstractmethod
    def run(self, case: Case) -> np.ndarray:
        """The framework's result in the canonical layout (N, C_out, *spatial), its own dtype."""

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """The framework's gradients of `sum(result * case.upstream)` in the canonical layouts,
        in its own dtype: `grad_input`, `grad_weight` and, with a bias, `grad_bias`. Adapters of
        frameworks with autodiff override it; the rest have none (`gradient_support`)."""
        raise NotImplementedError(f"{self.name} has no gradients")

    def gradient_translation(self, case: Case, check: str) -> str | None:
        """How a gradient row was obtained when it is not the framework's differentiation of its
        own transposed convolution (a bias the adapter adds with a separate op), or None."""
        return None

    def gradient_support(self, case: Case) -> str | None:
        """Why the framework's autodiff cannot give this case's gradients, or None."""
        if type(self).gradients is Adapter.gradients:
            return f"{self.name} computes no gradients (no autodiff in this entry point)"
        return None

    def translation(self, case: Case) -> str | None:
        """How the case is expressed when it is not the framework's own form (crops, zero
        extension, another padding word), in words for the row's message; None when native."""
        return None

    def sent(self, case: Case) -> dict[str, str]:
        """The framework-side parameters this adapter sends for the case (`padding: VALID`,
        `output_padding: 0`): what known-discrepancy entries match on as `sent_<key>`, since
        an entry's reason is about what the framework saw, not about the canonical case."""
        return {}

    def prepare(self, cases: Sequence[Case]) -> None:
        """Do ahead, for many upcoming cases at once, work `run` would otherwise do one case at a
        time (a converter's fixed cost per call is most of a conversion). Optional and advisory:
        the runner calls it with the next few cases of this adapter and ignores its errors, `run`
        must give the same answer whether it was called or not, and a case it left out (or that
        failed in it) is done by `run` alone, so its row carries its own error."""

    def path(self, case: Case) -> str:
        """The kernel family the framework takes for this case on this machine (`onednn`,
        `eigen`, `mkldnn`, `native (SlowTranspose2d)`), '' when there is only one or it cannot
        be read: the same release gives other answers on other paths."""
        return ""

    def __repr__(self) -> str:
        return f"<adapter {self.name}>"


@cache
def module_installed(module: str) -> bool:
    """Whether a module can be imported here, checked without importing it (a dotted name whose
    parent package is missing is not installed, not an error)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_requirements(adapter: Adapter) -> tuple[str, ...]:
    """The modules that keep an adapter from running here: its framework's module when that is
    not installed, then each of its `requires` that is not; empty when it can run."""
    missing = [] if framework_installed(adapter.framework) else [FRAMEWORK_MODULES[adapter.framework]]
    return tuple(missing + [m for m in adapter.requires if not module_installed(m)])


def adapter_installed(adapter: Adapter) -> bool:
    """Whether the adapter can run here: its framework and every module it `requires`."""
    return not missing_requirements(adapter)


def case_arrays(case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Input, kernel and bias in the case's NumPy dtype (exact: the values are already rounded)."""
    dtype = numpy_dtype(case.dtype)
    bias = None if case.bias is None else case.bias.astype(dtype)
    return case.input.astype(dtype), case.kernel.astype(dtype), bias


def finish_full_result(full: np.ndarray, case: Case) -> np.ndarray:
    """Read the canonical window from an uncropped (N, C_out, *L_full) result and add the bias.

    For the formulations that build the full result themselves (the NumPy ones): the window is
    the adapters' own reading of the contract (`adapters.padding`), not the oracle's.
    """
    from adapters.padding import Span, to_canonical_window

    y = to_canonical_window(full, [Span(0, n) for n in full.shape[2:]], case)
    if case.bias is not None:
        y = y + case.bias.astype(y.dtype).reshape((1, -1) + (1,) * case.rank)
    return y


def in_halves(items: Sequence[T], together: Callable[[list[T]], list[R]]) -> dict[int, R]:
    """`together(items)` (one result per item) by position, a failing batch halved until its failing
    items are alone and left out: `prepare`'s way, since their rows do them by themselves and say why."""
    try:
        return dict(enumerate(together(list(items))))
    except Exception:  # noqa: BLE001 - which item failed is for its own row to say
        if len(items) <= 1:
            return {}
        half = len(items) // 2
        rest = in_halves(items[half:], together)
        return {**in_halves(items[:half], together), **{half + i: result for i, result in rest.items()}}
