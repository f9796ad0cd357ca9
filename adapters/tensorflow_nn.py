"""TensorFlow: `tf.nn.conv_transpose` and `tf.nn.conv{1,2,3}d_transpose`, channels-last.

TensorFlow computes the gradient of a forward conv: the input goes channels-last (NWC, NHWC,
NDHWC), the filter is the forward conv's `(k..., C_out, C_in)` (no flip: TF's own gradient
flips it), and `output_shape` is given explicitly. `same`, `valid` and `output_shape` cases use
TF's own SAME/VALID rules; explicit `[begin, end]` crops use TF's explicit padding where it has
one (2-D); other windows run VALID over the full result and are cropped or zero-extended. The
bias, which tf.nn does not take, is added with `tf.nn.bias_add` after that.

The row's `path` says which kernels TF took (`onednn` or `eigen`, `tf_path`): the Eigen kernels
sum float16/bfloat16 in the low dtype and refuse dilation, so one release answers differently
on different CPUs; known-discrepancy entries match on it.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.layout import from_channels_last, kernel_from_spatial_out_in, kernel_to_spatial_out_in, to_channels_last
from adapters.padding import (Span, canonical_spans, describe_reslice, full_sizes, tf_plan, to_canonical_window,
                              upstream_on_span)
from harness import machine
from harness.case import Case
from harness.dtypes import numpy_dtype


def _tf():
    return import_framework("tensorflow")


def _constant(values: np.ndarray, dtype: str):
    tf = _tf()
    return tf.constant(np.asarray(values, dtype=np.float64), dtype=getattr(tf, dtype))


def _to_numpy(y, dtype: str) -> np.ndarray:
    """A TF tensor -> NumPy; bfloat16 comes back as ml_dtypes.bfloat16 (TF uses the same type)."""
    array = y.numpy()
    if dtype == "bfloat16" and array.dtype.name == "bfloat16":
        return array.astype(numpy_dtype("bfloat16"))
    return array


@cache
def onednn_enabled() -> bool:
    """Whether TensorFlow's oneDNN graph rewrites are on in this process (`TF_ENABLE_ONEDNN_OPTS`,
    on by default on x86-64 Linux), as TensorFlow itself reports it."""
    _tf()
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")


def onednn_takes(dtype: str) -> bool:
    """TensorFlow's own rule (`IsDataTypeSupportedByOneDNNOnThisCPU`, tensorflow/core/util/util.cc)
    for handing a dtype to oneDNN on this CPU; elsewhere it logs "oneDNN supports DT_HALF only on
    platforms with AVX-512. Falling back to the default Eigen-based implementation"."""
    if dtype == "float32":
        return True
    if dtype == "bfloat16":
        return machine.has("avx512f") or machine.has("avx_ne_convert")
    if dtype == "float16":
        return ((machine.has("avx512bw") and (machine.has("avx512_fp16") or machine.has("amx_fp16")))
                or machine.has("avx_ne_convert"))
    return False  # float64: oneDNN has no double convolutions


def tf_path(dtype: str, *, explicit_padding: bool) -> str:
    """`onednn` or `eigen`: the kernels TensorFlow runs a transposed conv on here. Explicit
    padding pairs are never rewritten to oneDNN (measured: bit-identical results with oneDNN on
    and off), so they take Eigen too."""
    if onednn_enabled() and onednn_takes(dtype) and not explicit_padding:
        return "onednn"
    return "eigen"


class _TensorFlowTranspose(Adapter):
    framework = "tensorflow"
    explicit_padding_ranks: tuple[int, ...] = (2,)

    def supports(self, case: Case) -> str | None:
        if case.groups > 1:
            return "tf.nn.conv_transpose has no groups (feature_group_count) argument"
        return None

    def sent(self, case: Case) -> dict[str, str]:
        padding, sizes, _ = self.plan(case)
        shown = padding if isinstance(padding, str) else f"explicit {padding[1:-1]}"  # type: ignore[index]
        return {"padding": shown, "output_shape": str(sizes)}

    def path(self, case: Case) -> str:
        padding, _, _ = self.plan(case)
        return tf_path(case.dtype, explicit_padding=not isinstance(padding, str))

    def explicit_padding_usable(self, case: Case) -> bool:
        """TF takes explicit pairs for 2-D only, and its CPU kernel for them refuses dilation > 1
        ("Current CPU implementations do not yet support dilation rates larger than 1"), while
        SAME/VALID with dilation run: those cases go VALID and are cropped."""
        return case.rank in self.explicit_padding_ranks and all(d == 1 for d in case.dilation)

    def call(self, x, w, output_shape, strides, padding, dilations, rank: int):
        raise NotImplementedError

    def plan(self, case: Case) -> tuple[object, list[int], list[Span]]:
        """TF's `padding` argument, the spatial output_shape, and the spans TF will produce."""
        wants = canonical_spans(case)
        plans = [
            tf_plan(n, k, s, d, want, word=case.padding_word, explicit_ok=self.explicit_padding_usable(case),
                    output_size=None if case.output_shape is None else case.output_shape[i])
            for i, (n, k, s, d, want) in enumerate(zip(case.input_size, case.kernel_size, case.stride,
                                                         case.dilation, wants))
        ]
        paddings = [p[0] for p in plans]
        if all(p == "SAME" for p in paddings) or all(p == "VALID" for p in paddings):
            padding: object = paddings[0]
        elif all(isinstance(p, tuple) or p == "VALID" for p in paddings) and self.explicit_padding_usable(case):
            pairs = [list(p) if isinstance(p, tuple) else [0, 0] for p in paddings]
            padding = [[0, 0], *pairs, [0, 0]]
        else:  # mixed SAME/VALID per dim: TF takes one word, so run VALID everywhere and crop.
            plans = [("VALID", f, Span(0, f)) for f in full_sizes(case)]
            padding = "VALID"
        return padding, [p[1] for p in plans], [p[2] for p in plans]

    def translation(self, case: Case) -> str | None:
        padding, sizes, have = self.plan(case)
        wants = canonical_spans(case)
        if have == list(wants):
            return None
        shown = self.sent(case)["padding"]
        return f"TF ran padding={shown} with output_shape {sizes}, then {describe_reslice(have, wants)}"

    def run(self, case: Case) -> np.ndarray:
        tf = _tf()
        padding, sizes, have = self.plan(case)
        x = _constant(to_channels_last(case.input), case.dtype)
        w = _constant(kernel_to_spatial_out_in(case.kernel), case.dtype)
        output_shape = [case.batch, *sizes, case.out_channels]
        y = self.call(x, w, output_shape, list(case.stride), padding, list(case.dilation), case.rank)
        y = to_canonical_window(from_channels_last(_to_numpy(y, case.dtype)), have, case)
        if case.bias is not None:
            y_last = tf.nn.bias_add(_constant(to_channels_last(y.astype(np.float64)), case.dtype),
                                    _constant(case.bias, case.dtype))
            y = from_channels_last(_to_numpy(y_last, case.dtype))
        return y


    def gradient_translation(self, case: Case, check: str) -> str | None:
        if check == "grad_bias":
            return "tf.nn.conv_transpose takes no bias: the bias is added by tf.nn.bias_add, so grad_bias is that op's gradient"
        return None

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`tf.GradientTape` over the call, the upstream gradient placed on TF's output
        (channels-last); the bias, added by `tf.nn.bias_add`, through the tape over that op."""
        tf = _tf()
        padding, sizes, have = self.plan(case)
        x = _constant(to_channels_last(case.input), case.dtype)
        w = _constant(kernel_to_spatial_out_in(case.kernel), case.dtype)
        g = _constant(to_channels_last(upstream_on_span(case.upstream, canonical_spans(case), have)), case.dtype)
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = self.call(x, w, [case.batch, *sizes, case.out_channels], list(case.stride), padding,
                          list(case.dilation), case.rank)
        grad_x, grad_w = tape.gradient(y, [x, w], output_gradients=g)
        grads = {"grad_input": from_channels_last(_to_numpy(grad_x, case.dtype)),
                 "grad_weight": kernel_from_spatial_out_in(_to_numpy(grad_w, case.dtype))}
        if case.bias is not None:
            b = _constant(case.bias, case.dtype)
            upstream = _constant(to_channels_last(case.upstream), case.dtype)
            with tf.GradientTape() as tape:
                tape.watch(b)
                y = tf.nn.bias_add(tf.zeros_like(upstream), b)
            grads["grad_bias"] = _to_numpy(tape.gradient(y, b, output_gradients=upstream), case.dtype)
        return grads


class TensorFlowConvTranspose(_TensorFlowTranspose):
    """`tf.nn.conv_transpose`, the rank-generic entry point."""

    name = "tensorflow.conv_transpose"

    def call(self, x, w, output_shape, strides, padding, dilations, rank: int):
        return _tf().nn.conv_transpose(x, w, output_shape, strides, padding=padding, dilations=dilations)


class TensorFlowConvNdTranspose(_TensorFlowTranspose):
    """`tf.nn.conv1d_transpose` / `conv2d_transpose` / `conv3d_transpose`."""

    name = "tensorflow.convNd_transpose"

    def call(self, x, w, output_shape, strides, padding, dilations, rank: int):
        nn = _tf().nn
        function = {1: nn.conv1d_transpose, 2: nn.conv2d_transpose, 3: nn.conv3d_transpose}[rank]
        return function(x, w, output_shape, strides, padding=padding, dilations=dilations)


class _WordsOnly(TensorFlowConvNdTranspose):
    """TF's transposed conv with SAME/VALID only: converters lower explicit padding to no builtin."""

    explicit_padding_ranks = ()


def graph_function(case: Case, *, explicit_padding: bool = True):
    """The case as a `tf.function` of the channels-last input alone, kernel and bias folded in as
    constants (what a saved model holds): `tf.nn.conv{1,2,3}d_transpose` as `TensorFlowConvNdTranspose`
    sends it, then `tf.nn.bias_add`. Returns (the function, its input, the spans of its result).
    For converters: the bias is added before the adapter's crop, so a window that runs past TF's
    result (zeros the bias would miss) is refused by `graph_supports`; `explicit_padding=False`
    runs VALID and crops where TF would take explicit pairs (TFLite's TRANSPOSE_CONV has none)."""
    tf = _tf()
    adapter = graph_adapter(explicit_padding=explicit_padding)
    padding, sizes, have = adapter.plan(case)
    x = np.asarray(to_channels_last(case.input), dtype=np.float64).astype(numpy_dtype(case.dtype))
    output_shape = [case.batch, *sizes, case.out_channels]

    @tf.function(input_signature=[tf.TensorSpec(x.shape, getattr(tf, case.dtype))], autograph=False)  # straight-line ops
    def layer(inputs):  # noqa: ANN001, ANN202
        # constants made inside the graph (Const nodes), not captured tensors a converter sees as inputs
        w = _constant(kernel_to_spatial_out_in(case.kernel), case.dtype)
        y = adapter.call(inputs, w, output_shape, list(case.stride), padding, list(case.dilation), case.rank)
        return y if case.bias is None else tf.nn.bias_add(y, _constant(case.bias, case.dtype))

    return layer, x, have


def graph_adapter(*, explicit_padding: bool = True) -> TensorFlowConvNdTranspose:
    """The plan `graph_function` follows (for `sent`, `translation`)."""
    return TensorFlowConvNdTranspose() if explicit_padding else _WordsOnly()


def graph_supports(case: Case, *, explicit_padding: bool = True) -> str | None:
    """Why `graph_function` cannot carry the case (groups; a bias with zeros past TF's result)."""
    from adapters.padding import needs_extension

    adapter = graph_adapter(explicit_padding=explicit_padding)
    reason = adapter.supports(case)
    if reason is None and case.bias is not None:
        _, _, have = adapter.plan(case)
        if needs_extension(have, canonical_spans(case)):
            reason = ("the window runs past TF's result and the bias is part of the converted graph: the zeros "
                      "appended after it would miss the bias")
    return reason


ADAPTERS = (TensorFlowConvTranspose(), TensorFlowConvNdTranspose())
