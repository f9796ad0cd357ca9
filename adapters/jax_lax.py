"""JAX: `jax.lax.conv_transpose` (with `transpose_kernel=True`) and `jax.lax.conv_general_dilated`
with `lhs_dilation` (the zero-insertion view), float64 through `jax_enable_x64`.

Both keep the canonical channels-first layout through `dimension_numbers`.
- `conv_transpose(..., transpose_kernel=True)` flips the kernel's spatial axes and swaps its
  O/I axes itself, so the canonical `(C_in, C_out, *k)` kernel goes in labelled `OI...`. `same`
  and `valid` use JAX's own 'SAME'/'VALID' (JAX's VALID appends zeros when the stride exceeds the
  dilated kernel: cropped); other windows are explicit padding pairs, which JAX reads as padding
  of the stride-dilated input. It has no groups (`unsupported`).
- `conv_general_dilated(lhs_dilation=stride, rhs_dilation=dilation, feature_group_count=groups)`
  gets the kernel rotated 180 degrees with C_in/C_out swapped group by group (the forward conv's
  OI layout) and explicit padding pairs.
`jax.lax` takes no bias: it is added with `jnp` after the call.

Each layer runs as one `jax.jit` function of its arrays (the call and the bias add; the vjp of both
for the gradients), as JAX users run layers: op by op, each cast and add would compile an XLA
executable of its own per shape. The result is the same, bit for bit, on every case of `cases/`.
`prepare` compiles the next cases' small and medium layers in one executable (`adapters.jax_batch`).
JAX compiles every new shape (seconds per hundred cases); its persistent compilation cache, in
tconv's user cache folder per JAX version and CPU (`harness.machine.fingerprint`), makes the
next run load them instead. The cached executables are XLA's own, so the answers are the same.
`TCONV_JAX_CACHE=0` turns it off; a `JAX_COMPILATION_CACHE_DIR` the user set is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from adapters import jax_batch
from adapters.base import Adapter, import_framework
from adapters.layout import rot180, swap_in_out
from adapters.padding import (
    Span,
    canonical_spans,
    describe_reslice,
    jax_pair,
    jax_span,
    jax_transpose_pads,
    to_canonical_window,
    upstream_on_span,
)
from harness import machine
from harness.case import Case

_SPECS = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"), 3: ("NCDHW", "OIDHW", "NCDHW")}


@cache
def _jax():
    jax = import_framework("jax")
    jax.config.update("jax_enable_x64", True)
    _persistent_cache(jax)
    return jax


def _persistent_cache(jax) -> None:
    """Compiled shapes kept on disk between runs (see the module docstring)."""
    if os.environ.get("TCONV_JAX_CACHE", "1") == "0" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    folder = machine.cache_root() / "jax" / f"{jax.__version__}-{machine.fingerprint()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile as before
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def _host(values: np.ndarray, dtype: str) -> np.ndarray:
    """The case's values in JAX's dtype, cast by NumPy: they are already rounded to it, and a
    `jnp` cast would compile one more XLA executable per shape."""
    return np.asarray(values, dtype=np.dtype(getattr(_jax().numpy, dtype)))


def _bias_added(y, bias):
    """`y + bias` over the channel axis, the bias added with `jnp` as a user adds it to `jax.lax`."""
    return y + bias.reshape((-1,) + (1,) * (y.ndim - 2))


def _forward(x, kernel, bias, *, call: _Call):
    """The call, then the bias added to its output as rounded to the dtype: the optimization barrier
    keeps XLA from fusing the add into the conv, which (JAX 0.4.30, bfloat16) adds to the unrounded
    sum and rounds once, 1 ulp from the op-by-op answer that `jnp` after `jax.lax` gives."""
    y = call.conv(x, kernel)
    return y if bias is None else _bias_added(_jax().lax.optimization_barrier(y), bias)


def _bias_in_call() -> bool:
    """Whether `_forward` takes the bias: JAX has `lax.optimization_barrier` (older releases add
    it in an executable of its own, `_added_bias`)."""
    return hasattr(_jax().lax, "optimization_barrier")


@cache
def _added_bias() -> Callable:
    return _jax().jit(_bias_added)


def _pullback(x, kernel, bias, upstream_on_output, upstream, *, call: _Call):
    """`jax.vjp` of the call, the upstream gradient placed on JAX's output; the bias's, `jax.vjp`
    of its add on the canonical window's upstream (the call's output shape cropped away)."""
    jax, jnp = _jax(), _jax().numpy
    _, pullback = jax.vjp(call.conv, x, kernel)
    grad_x, grad_k = pullback(upstream_on_output)
    if bias is None:
        return grad_x, grad_k, None
    _, pullback_bias = jax.vjp(lambda b: _bias_added(jnp.zeros(upstream.shape, b.dtype), b), bias)
    return grad_x, grad_k, pullback_bias(upstream)[0]


@cache
def _compiled(function: Callable) -> Callable:
    """`function` under `jax.jit`, its `call` static: one XLA executable per layer and shape, where
    running op by op compiles one per op (casts, the conv, the bias add, each their own)."""
    return _jax().jit(function, static_argnames=("call",))


def _layer(function: Callable, call: _Call, arrays: tuple[np.ndarray | None, ...]):  # noqa: ANN202
    """`function` on the arrays: in the batch `prepare` compiled it in, else compiled by itself."""
    batched = jax_batch.prepared(function, call, arrays)
    return batched(arrays) if batched is not None else _compiled(function)(*arrays, call=call)


def _reads_input(size: int, kernel: int, stride: int, dilation: int, pair: tuple[int, int]) -> bool:
    """Whether, in one dim of JAX's convolution (input dilated by the stride, window stride 1), some
    output position's window has a tap on an input element: input i sits at i*stride + low of the
    padded input, output j's taps at j + t*dilation, j in [0, outputs)."""
    low, high = pair
    dilated = (size - 1) * stride + 1
    outputs = dilated + low + high - dilation * (kernel - 1)
    for tap in range(kernel):  # the input positions i*stride this tap reads: [tap*dilation - low, ... + outputs)
        first, last = max(0, tap * dilation - low), min(dilated - 1, tap * dilation - low + outputs - 1)
        if size and first <= last and -(-first // stride) * stride <= last:
            return True
    return False


@dataclass(frozen=True)
class _Call:
    """One `jax.lax` entry point with its static arguments (hashable: the key of the compiled
    function's cache)."""

    entry: str  # "conv_transpose" or "conv_general_dilated"
    stride: tuple[int, ...]
    padding: str | tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int

    def conv(self, x, kernel):
        lax = _jax().lax
        spec = _SPECS[x.ndim - 2]
        if self.entry == "conv_transpose":
            return lax.conv_transpose(x, kernel, strides=self.stride, padding=self.padding,
                                      rhs_dilation=self.dilation, dimension_numbers=spec, transpose_kernel=True)
        return lax.conv_general_dilated(x, kernel, window_strides=(1,) * len(self.stride), padding=self.padding,
                                        lhs_dilation=self.stride, rhs_dilation=self.dilation,
                                        dimension_numbers=spec, feature_group_count=self.groups)


class _Jax(Adapter):
    framework = "jax"
    entry: str

    def plan(self, case: Case) -> tuple[object, list[Span]]:
        """The padding JAX is given and the spans of the full result it returns."""
        raise NotImplementedError

    def kernel(self, case: Case) -> np.ndarray:
        """The kernel as this entry point takes it (canonical, or the forward conv's)."""
        return np.asarray(case.kernel)

    def kernel_gradient(self, case: Case, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to `kernel(case)` back in the canonical layout."""
        return grad

    def sent(self, case: Case) -> dict[str, str]:
        """JAX's padding as sent ('SAME', 'VALID', or the pairs of the dilated input); whether a pair
        shifts the window (a negative low padding and a positive high one no larger: -a, b with
        0 < b <= a, the output no longer than the input, moved toward its end; finding 72); and
        whether the output reads any input element (no where a dim's pair leaves none under any
        window: the result is the bias alone and the input gradient zero; finding 74)."""
        padding, _ = self.plan(case)
        dims = list(zip(case.input_size, case.kernel_size, case.stride, case.dilation))
        if isinstance(padding, str):  # the word as sent; the pairs JAX takes it for
            text, pairs = padding, [jax_pair(k, s, d, padding) for _, k, s, d in dims]
        else:
            pairs = [tuple(pair) for pair in padding]
            text = ", ".join(f"({low}, {high})" for low, high in pairs)
        return {"padding": text,
                "shifted_window": "yes" if any(0 < high <= -low for low, high in pairs) else "no",
                "reads_input": "yes" if all(_reads_input(*dim, pair) for dim, pair in zip(dims, pairs)) else "no"}

    def _call(self, case: Case) -> tuple[_Call, list[Span]]:
        padding, have = self.plan(case)
        padding = padding if isinstance(padding, str) else tuple(tuple(pair) for pair in padding)
        return _Call(self.entry, tuple(case.stride), padding, tuple(case.dilation), case.groups), have

    def _forward_arrays(self, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """`_forward`'s arrays: without the bias where it is added on its own (`_bias_in_call`)."""
        x, kernel, bias = self._arrays(case)
        return x, kernel, bias if _bias_in_call() else None

    def _arrays(self, case: Case) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        bias = None if case.bias is None else _host(case.bias, case.dtype)
        return _host(case.input, case.dtype), _host(self.kernel(case), case.dtype), bias

    def _gradient_arrays(self, case: Case, have: list[Span]) -> tuple[np.ndarray | None, ...]:
        """`_pullback`'s arrays: the layer's, the upstream gradient on JAX's output, and the case's."""
        upstream = upstream_on_span(case.upstream, canonical_spans(case), have)
        return *self._arrays(case), _host(upstream, case.dtype), _host(case.upstream, case.dtype)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Compile the small and medium layers of the cases in batches of executables, their
        gradients in others (`adapters.jax_batch`)."""
        forward, pullback = [], []
        for case in cases:
            if self.supports(case) is not None or not jax_batch.batchable(case):
                continue
            (call, have), work = self._call(case), jax_batch.work(case)
            forward.append((call, self._forward_arrays(case), work))
            if case.upstream is not None and any(check != "forward" for check in case.checks):
                pullback.append((call, self._gradient_arrays(case, have), work))
        jax_batch.prepare(_forward, forward)
        jax_batch.prepare(_pullback, pullback)

    def run(self, case: Case) -> np.ndarray:
        """The call and the bias add, then the crop to the canonical window in NumPy (a per-channel
        add and a spatial crop commute; JAX's window never lacks a wanted position)."""
        call, have = self._call(case)
        y = _layer(_forward, call, self._forward_arrays(case))
        if case.bias is not None and not _bias_in_call():
            y = _added_bias()(y, _host(case.bias, case.dtype))
        return to_canonical_window(np.asarray(y), have, case)

    def gradient_translation(self, case: Case, check: str) -> str | None:
        if check == "grad_bias":
            return "jax.lax takes no bias: the bias is added by a jnp add, so grad_bias is that op's gradient"
        return None

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        call, have = self._call(case)
        grad_x, grad_k, grad_b = _layer(_pullback, call, self._gradient_arrays(case, have))
        grads = {"grad_input": np.asarray(grad_x), "grad_weight": self.kernel_gradient(case, np.asarray(grad_k))}
        if grad_b is not None:
            grads["grad_bias"] = np.asarray(grad_b)
        return grads


class JaxConvTranspose(_Jax):
    name = "jax.conv_transpose"
    entry = "conv_transpose"

    def supports(self, case: Case) -> str | None:
        if case.groups > 1:
            return "jax.lax.conv_transpose has no feature_group_count (groups)"
        return None

    def plan(self, case: Case) -> tuple[object, list[Span]]:
        """JAX's padding ('SAME', 'VALID' or pairs of the dilated input) and the spans it gives."""
        wants = canonical_spans(case)
        dims = list(zip(case.input_size, case.kernel_size, case.stride, case.dilation))
        word = case.padding_word
        if case.output_shape is None and not any(case.output_padding) and word in ("same", "same_upper", "valid"):
            padding = "VALID" if word == "valid" else "SAME"
            have = [jax_span(n, k, s, d, padding) for n, k, s, d in dims]
            if all(h.start <= w.start and h.stop >= w.stop for h, w in zip(have, wants)):
                return padding, have
        pairs = [jax_transpose_pads(n, k, s, d, w) for (n, k, s, d), w in zip(dims, wants)]
        return pairs, [jax_span(n, k, s, d, p) for (n, k, s, d), p in zip(dims, pairs)]

    def translation(self, case: Case) -> str | None:
        padding, have = self.plan(case)
        wants = canonical_spans(case)
        if have == list(wants):
            return None
        return f"JAX's {padding} appends zeros when the stride exceeds the dilated kernel: {describe_reslice(have, wants)}"


class JaxConvGeneralDilated(_Jax):
    name = "jax.conv_general_dilated"
    entry = "conv_general_dilated"

    def plan(self, case: Case) -> tuple[object, list[Span]]:
        wants = canonical_spans(case)
        padding = [jax_transpose_pads(n, k, s, d, w) for n, k, s, d, w in
                   zip(case.input_size, case.kernel_size, case.stride, case.dilation, wants)]
        return padding, list(wants)

    def kernel(self, case: Case) -> np.ndarray:
        return rot180(swap_in_out(case.kernel, case.groups))

    def kernel_gradient(self, case: Case, grad: np.ndarray) -> np.ndarray:
        """Both rewrites are permutations and their own inverses (group-wise transpose, flip)."""
        return swap_in_out(rot180(grad), case.groups)


ADAPTERS = (JaxConvTranspose(), JaxConvGeneralDilated())
