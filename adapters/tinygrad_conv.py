"""tinygrad: `Tensor.conv_transpose2d`, which despite its name takes 1, 2 and 3 spatial dims.

tinygrad's layouts are PyTorch's, so the canonical ones: input `(N, C_in, *spatial)`, weight
`(C_in, C_out/groups, *k)`, bias `(C_out,)` passed to the call (it adds it after its own conv2d,
so the output_padding region gets it too). Its `padding` takes, besides an int or one int per
dim, explicit `(begin, end)` crops in the flat order of `F.pad` (last dim first), and it puts no
bound on `output_padding` (it is more padding at the end of its zero-inserted input), so every
canonical window is one tinygrad call: explicit crops go as they are, and the padding words and
`output_shape` (which tinygrad lacks) go as the `(begin, end)` crops and output_padding of the
same window (stated in the row). Gradients: tinygrad's autograd (`Tensor.backward`).

Device: tinygrad's `CPU` device compiles every kernel with `clang` (its bootstrap programs too),
so on a machine without clang it does not open and tinygrad finds "no usable devices"; the adapter
then runs on the `PYTHON` device, tinygrad's interpreter of its own kernels (slow, but the same
scheduler and kernel code). `DEV` set in the environment (tinygrad's own switch) wins. The row's
`path` names the device: answers may differ between them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import numpy as np

from adapters.base import Adapter, import_framework, probe_error
from adapters.padding import canonical_spans, full_sizes
from harness.case import Case
from harness.dtypes import numpy_dtype


def _tg():
    return import_framework("tinygrad")


@cache
def device() -> str:
    """The tinygrad device the adapter runs on: `DEV` when set, else `CPU` when its C compiler is
    there and it opens, else `PYTHON` (tinygrad's own interpreter, which needs nothing).

    The compiler is looked for first (`CC`, default `clang`, as tinygrad calls it): CPU also opens
    without one when its bootstrap programs are in tinygrad's disk cache, and then fails on the
    first new kernel."""
    tinygrad = _tg()
    if os.environ.get("DEV"):
        return tinygrad.Device.canonicalize(os.environ["DEV"])
    if shutil.which(os.environ.get("CC") or "clang") is None:
        return "PYTHON"
    try:
        tinygrad.Device["CPU"]
    except Exception:  # noqa: BLE001 - no clang here (FileNotFoundError), or any other reason CPU cannot open
        return "PYTHON"
    return "CPU"


def _tensor(values: np.ndarray, dtype: str, requires_grad: bool = False):
    """Float64 values exact in `dtype` -> a tinygrad tensor of that dtype on the adapter's device.

    NumPy has no bfloat16: those go in as float32 and are cast on the device (exact, the values
    are bfloat16 already)."""
    tg = _tg()
    host = np.ascontiguousarray(values, dtype=np.float32 if dtype == "bfloat16" else numpy_dtype(dtype))
    t = tg.Tensor(host, device=device())
    if dtype == "bfloat16":
        t = t.cast(tg.dtypes.bfloat16)
    if requires_grad:
        t.requires_grad = True
    return t


def _to_numpy(t, dtype: str) -> np.ndarray:
    """A tinygrad tensor -> NumPy in the case dtype (bfloat16 through float32, exactly).

    The bfloat16 result is realized before the cast: a cast fused into the same kernel may skip
    the rounding to the narrow dtype (seen on the PYTHON device with float16), and the row must
    show what tinygrad stores, not a wider intermediate."""
    if dtype == "bfloat16":
        return t.realize().cast(_tg().dtypes.float32).numpy().astype(numpy_dtype("bfloat16"))
    return t.numpy()


def plan(case: Case) -> tuple[list[tuple[int, int]], tuple[int, ...]]:
    """Per dim (canonical order) the `(begin, end)` crop and the output_padding sent to tinygrad.

    tinygrad's output per dim is `full - begin - end + output_padding`, the positions from `begin`
    on. The canonical window `[start, stop)` is then `begin = start` with the case's own
    output_padding and `end = full + output_padding - stop` (for an explicit crop, exactly the
    case's pair); where that end is negative (a window past the full result: `same` with a stride
    beyond the kernel, some `output_shape`s), `end = 0` and output_padding `stop - full` instead.
    """
    pads, extras = [], []
    for want, full, op in zip(canonical_spans(case), full_sizes(case), case.output_padding):
        end = full + op - want.stop
        if end < 0:
            end, op = 0, want.stop - full
        pads.append((want.start, end))
        extras.append(op)
    return pads, tuple(extras)


def tinygrad_padding(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """Crops in canonical dim order -> tinygrad's `padding`: one int per dim where every crop is
    symmetric (PyTorch's form), else the flat `(begin, end)` pairs with the last dim first."""
    if all(b == e for b, e in pads):
        return tuple(b for b, _ in pads)
    return tuple(v for pair in reversed(pads) for v in pair)


class TinygradConvTranspose(Adapter):
    name = "tinygrad.conv_transpose"
    framework = "tinygrad"

    def version(self) -> str:
        # tinygrad has no __version__: the distribution's metadata says it
        from harness.environment import installed_version

        return installed_version("tinygrad") or "unknown"

    def supports(self, case: Case) -> str | None:
        return _missing_dtype(case.dtype)

    def sent(self, case: Case) -> dict[str, str]:
        pads, extras = plan(case)
        return {"padding": str(tinygrad_padding(pads)), "output_padding": str(extras)}

    def path(self, case: Case) -> str:
        return device()

    def translation(self, case: Case) -> str | None:
        if case.padding_word is None and case.output_shape is None:
            return None  # explicit crops go as they are (`plan`)
        pads, extras = plan(case)
        what = "output_shape" if case.output_shape is not None else f"padding {case.padding_word}"
        return (f"tinygrad has no {what}: sent the same window as (begin, end) crops "
                f"{tuple(pads)} (canonical dim order) and output_padding={extras}")

    def conv(self, case: Case, x, w, b):
        """tinygrad's result for the tensors x, w, b (b may be None): one conv_transpose2d call."""
        pads, extras = plan(case)
        return x.conv_transpose2d(w, b, groups=case.groups, stride=case.stride, dilation=case.dilation,
                                  padding=tinygrad_padding(pads), output_padding=extras)

    def run(self, case: Case) -> np.ndarray:
        b = None if case.bias is None else _tensor(case.bias, case.dtype)
        y = self.conv(case, _tensor(case.input, case.dtype), _tensor(case.kernel, case.dtype), b)
        return _to_numpy(y, case.dtype)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`Tensor.backward` of the call with the case's upstream gradient (tinygrad's window is
        the canonical one, so the upstream goes on it as it is)."""
        x = _tensor(case.input, case.dtype, requires_grad=True)
        w = _tensor(case.kernel, case.dtype, requires_grad=True)
        b = None if case.bias is None else _tensor(case.bias, case.dtype, requires_grad=True)
        y = self.conv(case, x, w, b)
        y.backward(_tensor(case.upstream, case.dtype))
        grads = {"grad_input": _to_numpy(x.grad, case.dtype), "grad_weight": _to_numpy(w.grad, case.dtype)}
        if b is not None:
            grads["grad_bias"] = _to_numpy(b.grad, case.dtype)
        return grads


@cache
def _missing_dtype(dtype: str) -> str | None:
    """tinygrad's own words when its device cannot run a dtype (asked once, tiny case), else None."""
    error = probe_error(TinygradConvTranspose().run, dtype)
    if error is None:
        return None
    if isinstance(error, subprocess.CalledProcessError):  # the C compiler refused the kernel (its words: stderr)
        # measured: Debian 12's clang 14 has no __bf16 on x86-64 ("__bf16 is not supported on this target")
        return (f"tinygrad on {device()} cannot run {dtype}: its C compiler {error.cmd[0]} failed on the kernel "
                f"(exit status {error.returncode}; the compiler's words are in the framework log)")
    return f"tinygrad on {device()} cannot run {dtype}: {type(error).__name__}: {' '.join(str(error).split())[:240]}"


ADAPTERS = (TinygradConvTranspose(),)
