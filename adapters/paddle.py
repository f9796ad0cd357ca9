"""PaddlePaddle: `paddle.nn.functional.conv{1,2,3}d_transpose` and `paddle.nn.Conv{1,2,3}DTranspose`.

Paddle's layouts are the canonical ones (NCL/NCHW/NCDHW, weight `[C_in, C_out/groups, *k]`, no
flip), so only the padding is translated. Paddle's own forms, each checked against its rule
(`paddle_span`, Paddle's InferMeta) before it is sent:
- explicit crops are Paddle's `padding` (symmetric: one int per dim; else the
  `[[0, 0], [0, 0], [begin, end], ...]` form), `output_padding` is its namesake;
- `valid` is `"VALID"` (no crop), with `output_padding`;
- `same` is `"SAME"` only where Paddle's SAME gives the canonical window: Paddle pads as a
  *forward* conv of the input size would (`total = max((ceil(in/s) - 1)*s + k - in, 0)`, the
  smaller half first) and sets the dilation to 1, so its window is often not `in * stride` long;
- TF-style `output_shape` (`valid`/`same`) and PyTorch's `output_size` rule are Paddle's
  `output_size` (which, like PyTorch's, picks a size in `[L, L + stride)` after the start crop).
Everything else (a SAME window Paddle gets differently, SAME with dilation, `same_lower`, ONNX's
`output_shape`) is sent as explicit `[begin, end]` crops plus the `output_padding` that reaches
the window's end, said so in `translation()`; zeros past what an `output_padding < stride`
reaches are appended by the adapter (only without a bias: Paddle would add it there).
Paddle's CPU build has no float16/bfloat16 conv_transpose kernels: such rows are `unsupported`
with Paddle's own message, asked once per dtype and rank.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from adapters.base import Adapter, import_framework, probe_error
from adapters.padding import (
    Span,
    canonical_spans,
    describe_reslice,
    full_size,
    full_sizes,
    needs_extension,
    to_canonical_window,
    upstream_on_span,
)
from harness.case import Case
from harness.dtypes import numpy_dtype

_CHANNELS_FIRST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}

# Set when this module is loaded, before anything imports Paddle (tconv's workers import each
# framework right after loading the adapters): Paddle's glog level, and its import-time
# "No ccache found" UserWarning (about building C++ extensions, which tconv never does).
os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)


def _paddle():
    """The real `paddle` package (an absolute import: this module is `adapters.paddle`)."""
    return import_framework("paddle")


def _tensor(values: np.ndarray, dtype: str, *, grad: bool = False):
    """A float64 array of dtype-exact values -> a Paddle tensor of that dtype (exact)."""
    paddle = _paddle()
    wide = "float64" if dtype == "float64" else "float32"
    t = paddle.to_tensor(np.asarray(values, dtype=np.float64).astype(wide))
    if dtype != wide:
        t = t.astype(dtype)
    t.stop_gradient = not grad
    return t


def _to_numpy(t, dtype: str) -> np.ndarray:
    """A Paddle tensor -> NumPy in the case dtype (bfloat16 through float32, exactly)."""
    if dtype == "bfloat16":
        return t.astype("float32").numpy().astype(numpy_dtype("bfloat16"))
    return t.numpy()


def paddle_span(size: int, kernel: int, stride: int, dilation: int, padding: object, *,
                output_padding: int = 0, output_size: int | None = None) -> Span:
    """Paddle's conv_transpose window for one dim (its InferMeta and `UpdatePaddingAndDilation`).

    `"SAME"` pads like a forward conv of the input size, `max((ceil(in/s)-1)*s + k - in, 0)`,
    the smaller half first, and runs with dilation 1; `"VALID"` crops nothing; a pair crops it.
    The length is `full - crops + output_padding`, or `output_size` (in `[that, that + stride)`).
    """
    if padding == "SAME":
        dilation = 1
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        begin, crop = total // 2, total
    elif padding == "VALID":
        begin, crop = 0, 0
    else:
        begin, end = padding  # type: ignore[misc]
        crop = begin + end
    length = full_size(size, kernel, stride, dilation) - crop + output_padding
    return Span(begin, length if output_size is None else output_size)


@dataclass(frozen=True)
class Plan:
    """What is sent to Paddle, the window Paddle gives, and why it is not the case's own form."""

    padding: object
    pairs: tuple[object, ...]  # per dim: "SAME", "VALID" or (begin, end), for `paddle_span`
    output_padding: tuple[int, ...]
    output_size: tuple[int, ...] | None
    spans: tuple[Span, ...]
    why: str | None = None


def _explicit_argument(pairs) -> object:
    """Paddle's padding argument for per-dim `(begin, end)` crops: ints when symmetric."""
    if all(b == e for b, e in pairs):
        return [b for b, _ in pairs]
    return [[0, 0], [0, 0], *([b, e] for b, e in pairs)]


def _spans(case: Case, pairs, output_padding, output_size) -> tuple[Span, ...]:
    """`paddle_span` of every dim for one candidate call."""
    return tuple(
        paddle_span(n, k, s, d, p, output_padding=op, output_size=None if output_size is None else output_size[i])
        for i, (n, k, s, d, p, op) in enumerate(zip(case.input_size, case.kernel_size, case.stride, case.dilation,
                                                    pairs, output_padding)))


def _size_accepted(case: Case, spans, pairs) -> bool:
    """Paddle takes `output_size` within `[inferred, inferred + stride)` of its own padding."""
    base = _spans(case, pairs, (0,) * case.rank, None)
    return all(b.length <= s.length < b.length + st for b, s, st in zip(base, spans, case.stride))


def _native(case: Case) -> Plan | None:
    """The case in Paddle's own form, when that form gives exactly the canonical window."""
    wants = canonical_spans(case)
    word, shape, zeros = case.padding_word, case.output_shape, (0,) * case.rank
    ops = case.output_padding if shape is None else zeros
    undilated = all(d == 1 or k == 1 for d, k in zip(case.dilation, case.kernel_size))
    if word in ("same", "same_upper") and undilated and case.output_shape_form in ("", "tensorflow"):
        pairs, argument = ("SAME",) * case.rank, "SAME"
    elif word == "valid":
        pairs, argument = ("VALID",) * case.rank, "VALID"
    elif word is None and case.output_shape_form in ("", "pytorch"):
        pairs, argument = tuple(case.padding), _explicit_argument(case.padding)
    else:
        return None
    spans = _spans(case, pairs, ops, shape)
    if spans != wants or (shape is not None and not _size_accepted(case, spans, pairs)):
        return None
    return Plan(argument, pairs, ops, shape, spans)


def _why(case: Case) -> str:
    """Why the case's own form is not Paddle's, in words."""
    word = case.padding_word
    if word in ("same", "same_upper") and any(d > 1 and k > 1 for d, k in zip(case.dilation, case.kernel_size)):
        return "Paddle's SAME sets the dilation to 1"
    undilated = all(d == 1 or k == 1 for d, k in zip(case.dilation, case.kernel_size))
    if word in ("same", "same_upper") and undilated and case.output_shape_form in ("", "tensorflow"):
        return "Paddle's SAME crops as a forward conv of the input size would, not to in*stride"
    if word == "same_lower":
        return "Paddle has no same_lower"
    if case.output_shape is not None:
        return f"Paddle's output_size keeps its padding's start crop, unlike {case.output_shape_form}'s output_shape"
    return "Paddle's form differs"


@lru_cache(maxsize=64)  # a run asks several times per case; fuzzing makes many cases
def plan(case: Case) -> Plan:
    """Paddle's call for a case: its own form when exact, else explicit crops + output_padding."""
    native = _native(case)
    if native is not None:
        return native
    wants = canonical_spans(case)
    pairs, ops = [], []
    for want, full, stride in zip(wants, full_sizes(case), case.stride):
        pairs.append((want.start, max(0, full - want.stop)))
        ops.append(min(max(0, want.stop - full), stride - 1))  # past that: zeros the adapter appends
    spans = _spans(case, pairs, ops, None)
    return Plan(_explicit_argument(pairs), tuple(pairs), tuple(ops), None, spans, _why(case))


class _Paddle(Adapter):
    framework = "paddle"

    def version(self) -> str:
        return str(_paddle().__version__)

    def supports(self, case: Case) -> str | None:
        missing = _missing_kernel(case.dtype, case.rank)
        if missing:
            return missing
        p = plan(case)
        if case.bias is not None and needs_extension(p.spans, canonical_spans(case)):
            return ("the window runs further past the full result than an output_padding < stride reaches "
                    "(Paddle's kernel fails for larger ones), and Paddle would add the bias to the zeros there")
        return None

    def sent(self, case: Case) -> dict[str, str]:
        p = plan(case)
        shown = {"padding": str(p.padding)}
        if p.output_size is not None:
            shown["output_size"] = str(list(p.output_size))
        else:
            shown["output_padding"] = str(list(p.output_padding))
        beyond = any(op >= s for op, s in zip(p.output_padding, case.stride))
        shown["output_padding_beyond_stride"] = "yes" if beyond else "no"
        return shown

    def path(self, case: Case) -> str:
        """Paddle's CPU kernel: `depthwise_conv2d_transpose` when C_in == groups > 1 and
        C_out == groups (not for 3-D), else the im2col/GEMM `conv*d_transpose`."""
        depthwise = case.rank < 3 and case.in_channels == case.groups != 1 and case.out_channels == case.groups
        return "depthwise" if depthwise else "gemm"

    def translation(self, case: Case) -> str | None:
        p = plan(case)
        wants = canonical_spans(case)
        if p.why is None:
            return None
        text = f"{p.why}: ran padding={p.padding}, output_padding={list(p.output_padding)}"
        if list(p.spans) != list(wants):
            text += f", then {describe_reslice(p.spans, wants)}"
        return text

    def call(self, case: Case, x, w, b, p: Plan):
        """Paddle's result (before the adapter's zero extension) for the tensors x, w, b."""
        raise NotImplementedError

    def run(self, case: Case) -> np.ndarray:
        p = plan(case)
        b = None if case.bias is None else _tensor(case.bias, case.dtype)
        y = self.call(case, _tensor(case.input, case.dtype), _tensor(case.kernel, case.dtype), b, p)
        return to_canonical_window(_to_numpy(y, case.dtype), p.spans, case)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`paddle.grad` of the call, the case's upstream gradient placed on Paddle's output."""
        paddle = _paddle()
        p = plan(case)
        x = _tensor(case.input, case.dtype, grad=True)
        w = _tensor(case.kernel, case.dtype, grad=True)
        b = None if case.bias is None else _tensor(case.bias, case.dtype, grad=True)
        y = self.call(case, x, w, b, p)
        g = _tensor(upstream_on_span(case.upstream, canonical_spans(case), p.spans), case.dtype)
        targets = [x, *self.parameters(w, b)]
        found = paddle.grad([y], targets, grad_outputs=[g], allow_unused=True)
        found = [paddle.zeros_like(t) if f is None else f for t, f in zip(targets, found)]
        grads = {"grad_input": _to_numpy(found[0], case.dtype), "grad_weight": _to_numpy(found[1], case.dtype)}
        if b is not None:
            grads["grad_bias"] = _to_numpy(found[2], case.dtype)
        return grads

    def parameters(self, w, b) -> list[object]:
        """The tensors the last `call` used as weight and bias (gradients are taken for them)."""
        return [w] + ([] if b is None else [b])


class PaddleFunctional(_Paddle):
    """`paddle.nn.functional.conv{1,2,3}d_transpose`."""

    name = "paddle.functional"

    def call(self, case: Case, x, w, b, p: Plan):
        functional = _paddle().nn.functional
        conv = {1: functional.conv1d_transpose, 2: functional.conv2d_transpose,
                3: functional.conv3d_transpose}[case.rank]
        extra = {"output_size": list(p.output_size)} if p.output_size is not None else {
            "output_padding": list(p.output_padding) if any(p.output_padding) else 0}
        return conv(x, w, b, stride=list(case.stride), padding=p.padding, dilation=list(case.dilation),
                    groups=case.groups, data_format=_CHANNELS_FIRST[case.rank], **extra)


class PaddleLayer(_Paddle):
    """`paddle.nn.Conv{1,2,3}DTranspose`, the case's weights set with `set_value`."""

    name = "paddle.layer"

    def call(self, case: Case, x, w, b, p: Plan):
        paddle = _paddle()
        layer_class = {1: paddle.nn.Conv1DTranspose, 2: paddle.nn.Conv2DTranspose,
                       3: paddle.nn.Conv3DTranspose}[case.rank]
        saved = paddle.get_default_dtype()
        paddle.set_default_dtype("float64" if case.dtype == "float64" else "float32")
        try:
            layer = layer_class(
                case.in_channels, case.out_channels, list(case.kernel_size), stride=list(case.stride),
                padding=p.padding, output_padding=list(p.output_padding) if any(p.output_padding) else 0,
                dilation=list(case.dilation), groups=case.groups, bias_attr=None if b is not None else False,
                data_format=_CHANNELS_FIRST[case.rank],
            )
        finally:
            paddle.set_default_dtype(saved)
        if case.dtype in ("float16", "bfloat16"):
            layer.to(dtype=case.dtype)
        layer.weight.set_value(w)
        if b is not None:
            layer.bias.set_value(b)
        layer.weight.stop_gradient = w.stop_gradient
        if layer.bias is not None:
            layer.bias.stop_gradient = b.stop_gradient
        self._parameters = [layer.weight] + ([] if b is None else [layer.bias])
        if p.output_size is not None:  # the layer picks the output padding itself from the size
            return layer(x, output_size=list(p.output_size))
        return layer(x)

    def parameters(self, w, b) -> list[object]:
        return self._parameters


@cache
def _missing_kernel(dtype: str, rank: int) -> str | None:
    """Paddle's own words when it has no CPU conv_transpose kernel for a dtype (asked once per
    dtype and rank with a tiny case); None when it has one or fails some other way."""
    error = probe_error(PaddleFunctional().run, dtype, rank)
    text = " ".join(str(error).split())
    if error is not None and "not registered" in text:
        return f"Paddle has no CPU conv_transpose kernel for {dtype}: {text.split(' [Hint')[0][:240]}"
    return None


ADAPTERS = (PaddleFunctional(), PaddleLayer())
