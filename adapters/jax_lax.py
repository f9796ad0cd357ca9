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

JAX compiles every new shape (seconds per hundred cases); its persistent compilation cache, in
tconv's user cache folder per JAX version and CPU (`harness.machine.fingerprint`), makes the
next run load them instead. The cached executables are XLA's own, so the answers are the same.
`TCONV_JAX_CACHE=0` turns it off; a `JAX_COMPILATION_CACHE_DIR` the user set is left alone.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.layout import rot180, swap_in_out
from adapters.padding import (Span, canonical_spans, describe_reslice, jax_span, jax_transpose_pads, to_canonical_window,
                              upstream_on_span)
from harness import machine
from harness.case import Case

_SPECS = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"), 3: ("NCDHW", "OIDHW", "NCDHW")}


@cache
def _jax():
    jax = import_framework("jax")
    jax.config.update("jax_enable_x64", True)
    _persistent_cache(jax)
    return jax


def _persistent_cache(jax) -> None:  # noqa: ANN001
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


def _array(values: np.ndarray, dtype: str):
    jnp = _jax().numpy
    return jnp.asarray(np.asarray(values, dtype=np.float64), dtype=getattr(jnp, dtype))


def _finish(y, case: Case, have: list[Span]) -> np.ndarray:
    jnp = _jax().numpy
    y = jnp.asarray(to_canonical_window(np.asarray(y), have, case))
    if case.bias is not None:
        y = y + _array(case.bias, case.dtype).reshape((-1,) + (1,) * case.rank)
    return np.asarray(y)


class _Jax(Adapter):
    framework = "jax"

    def plan(self, case: Case) -> tuple[object, list[Span]]:
        """The padding JAX is given and the spans of the full result it returns."""
        raise NotImplementedError

    def kernel(self, case: Case) -> np.ndarray:
        """The kernel as this entry point takes it (canonical, or the forward conv's)."""
        return np.asarray(case.kernel)

    def kernel_gradient(self, case: Case, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to `kernel(case)` back in the canonical layout."""
        return grad

    def conv(self, case: Case, x, kernel, padding):
        raise NotImplementedError

    def run(self, case: Case) -> np.ndarray:
        padding, have = self.plan(case)
        y = self.conv(case, _array(case.input, case.dtype), _array(self.kernel(case), case.dtype), padding)
        return _finish(y, case, have)

    def gradient_translation(self, case: Case, check: str) -> str | None:
        if check == "grad_bias":
            return "jax.lax takes no bias: the bias is added by a jnp add, so grad_bias is that op's gradient"
        return None

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`jax.vjp` of the call, the upstream gradient placed on JAX's output; the bias, added
        with `jnp` after the call, through `jax.vjp` of that add."""
        jax, jnp = _jax(), _jax().numpy
        padding, have = self.plan(case)
        g = upstream_on_span(case.upstream, canonical_spans(case), have)
        _, pullback = jax.vjp(lambda x, k: self.conv(case, x, k, padding), _array(case.input, case.dtype),
                              _array(self.kernel(case), case.dtype))
        grad_x, grad_k = pullback(_array(g, case.dtype))
        grads = {"grad_input": np.asarray(grad_x), "grad_weight": self.kernel_gradient(case, np.asarray(grad_k))}
        if case.bias is not None:
            shape = case.upstream.shape
            _, pullback_bias = jax.vjp(lambda b: jnp.zeros(shape, b.dtype) + b.reshape((-1,) + (1,) * case.rank),
                                       _array(case.bias, case.dtype))
            grads["grad_bias"] = np.asarray(pullback_bias(_array(case.upstream, case.dtype))[0])
        return grads


class JaxConvTranspose(_Jax):
    name = "jax.conv_transpose"

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

    def conv(self, case: Case, x, kernel, padding):
        return _jax().lax.conv_transpose(
            x, kernel, strides=case.stride, padding=padding, rhs_dilation=case.dilation,
            dimension_numbers=_SPECS[case.rank], transpose_kernel=True,
        )


class JaxConvGeneralDilated(_Jax):
    name = "jax.conv_general_dilated"

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

    def conv(self, case: Case, x, kernel, padding):
        return _jax().lax.conv_general_dilated(
            x, kernel, window_strides=(1,) * case.rank, padding=padding, lhs_dilation=case.stride,
            rhs_dilation=case.dilation, dimension_numbers=_SPECS[case.rank], feature_group_count=case.groups,
        )


ADAPTERS = (JaxConvTranspose(), JaxConvGeneralDilated())
