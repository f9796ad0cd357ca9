"""Framework-free shape and padding arithmetic for the adapters.

Each framework states its own output-size rule; they are written here once, as the framework
documents them, and tested against those documents (`tests/test_padding.py`). The adapters'
reading of the canonical output (`canonical_spans`) is a second, independent copy of the
contract's rule: the oracle uses `harness.geometry`, and nothing here imports it, so a slip in
one shows up as a disagreement instead of hiding in both.

Every result below is a `Span`: which positions of the full result (zero-extended at the end)
an output dimension covers. Translating between frameworks is then cropping a span or
zero-extending it (`reslice`), which is all an adapter may do besides layouts and flips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Span:
    """Output positions `[start, start + length)` of the zero-extended full result."""

    start: int
    length: int

    @property
    def stop(self) -> int:
        return self.start + self.length


def dilated(kernel: int, dilation: int) -> int:
    """Kernel extent with `dilation - 1` gaps between taps."""
    return (kernel - 1) * dilation + 1


def full_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Length with no crop: the last input's last tap lands on the last position."""
    return (size - 1) * stride + dilated(kernel, dilation)


def canonical_span(
    size: int, kernel: int, stride: int, dilation: int, padding: object, output_padding: int,
    output_shape: int | None, rule: str | None = None,
) -> Span:
    """The contract's output window for one dim (the adapters' own reading of it)."""
    full = full_size(size, kernel, stride, dilation)
    if output_shape is not None:
        return Span(_output_shape_start(full, output_shape, padding, output_padding, rule), output_shape)
    if isinstance(padding, str):
        if padding == "valid":
            return Span(0, full + output_padding)
        excess = max(full + output_padding - size * stride, 0)
        start = (excess + 1) // 2 if padding == "same_lower" else excess // 2
        return Span(start, size * stride)
    begin, end = padding  # type: ignore[misc]
    return Span(begin, full + output_padding - begin - end)


def _output_shape_start(full: int, output_shape: int, padding: object, output_padding: int,
                        rule: str | None) -> int:
    """The contract's three `output_shape` rules: TensorFlow's (the default: `valid`, `same`),
    ONNX's (`rule` onnx: `same_upper`, `same_lower`, no padding), PyTorch's `output_size=`
    (`rule` pytorch: a symmetric integer padding)."""
    if rule in (None, "tensorflow"):
        if padding not in ("valid", "same"):
            raise ValueError(f"TensorFlow's output_shape with padding {padding}")
        return 0 if padding == "valid" else max(full - output_shape, 0) // 2
    if rule == "onnx":
        excess = max(full + output_padding - output_shape, 0)
        return excess // 2 if padding == "same_upper" else (excess + 1) // 2
    begin, end = padding  # type: ignore[misc]
    if begin != end:
        raise ValueError(f"PyTorch's output_size with the padding pair {padding}")
    return begin


def full_sizes(case: object) -> list[int]:
    """`full_size` of every spatial dim of a case."""
    c = case
    return [full_size(*a) for a in zip(c.input_size, c.kernel_size, c.stride, c.dilation)]  # type: ignore[attr-defined]


def canonical_spans(case: object) -> tuple[Span, ...]:
    """`canonical_span` for every spatial dim of a case."""
    c = case
    shapes = c.output_shape or (None,) * c.rank  # type: ignore[attr-defined]
    rule = getattr(c, "output_shape_rule", None)
    return tuple(
        canonical_span(n, k, s, d, p, op, o, rule)
        for n, k, s, d, p, op, o in zip(
            c.input_size, c.kernel_size, c.stride, c.dilation, c.padding,  # type: ignore[attr-defined]
            c.output_padding, shapes,  # type: ignore[attr-defined]
        )
    )


# --- Each framework's documented rule, as a Span. -------------------------------------------

def torch_span(size: int, kernel: int, stride: int, dilation: int, padding: int, output_padding: int) -> Span:
    """PyTorch ConvTranspose: `H_out = (H_in-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1`."""
    length = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    return Span(padding, length)


def tf_span(size: int, kernel: int, stride: int, dilation: int, padding: str | tuple[int, int],
            output_size: int) -> Span:
    """TensorFlow conv_transpose with `output_shape`: the gradient of a forward conv of that size.

    The forward conv pads `max((ceil(out/s) - 1)*s + k_eff - out, 0)` for SAME, its smaller half
    first; VALID pads nothing; explicit pads are the forward conv's `[before, after]`.
    """
    if padding == "SAME":
        total = max((-(-output_size // stride) - 1) * stride + dilated(kernel, dilation) - output_size, 0)
        return Span(total // 2, output_size)
    if padding == "VALID":
        return Span(0, output_size)
    return Span(padding[0], output_size)  # type: ignore[index]


def tf_forward_size(output_size: int, kernel: int, stride: int, dilation: int, padding: str | tuple[int, int]) -> int:
    """What TF's forward conv gives for `output_size`; TF requires it to equal the input size."""
    if padding == "SAME":
        return -(-output_size // stride)
    pads = 0 if padding == "VALID" else sum(padding)  # type: ignore[arg-type]
    return (output_size + pads - dilated(kernel, dilation)) // stride + 1


def onnx_span(size: int, kernel: int, stride: int, dilation: int, *, pads: tuple[int, int] = (0, 0),
              output_padding: int = 0, auto_pad: str = "NOTSET", output_shape: int | None = None) -> Span:
    """ONNX ConvTranspose (opset 11+): `pads`, or `auto_pad`/`output_shape` via total padding.

    `total = stride*(in-1) + output_padding + ((k-1)*dilation + 1) - out`; SAME_UPPER puts
    `total/2` first, SAME_LOWER (and NOTSET with output_shape) puts `total - total/2` first.
    """
    full = full_size(size, kernel, stride, dilation)
    if auto_pad == "VALID":
        return Span(0, full + output_padding)
    if output_shape is None and auto_pad == "NOTSET":
        return Span(pads[0], full + output_padding - pads[0] - pads[1])
    out = size * stride if output_shape is None else output_shape
    total = full + output_padding - out
    if total < 0:  # nothing to crop: the missing positions are zeros at the end (test_convtranspose_output_shape)
        return Span(0, out)
    half = total // 2
    return Span(half if auto_pad == "SAME_UPPER" else total - half, out)


def keras_span(size: int, kernel: int, stride: int, dilation: int, padding: str,
               output_padding: int | None) -> Span:
    """Keras 3 ConvNDTranspose on TensorFlow: Keras picks the size, TF's SAME/VALID the start.

    Size (`backend_utils._get_output_shape_given_tf_padding`): valid without output_padding is
    `(in-1)*s + k_eff + max(k_eff, s) - k_eff`; same without it `in*s`; with it,
    `(in-1)*s + k_eff + op` (valid) or `(in-1)*s + k_eff % 2 + op` (same).
    """
    k_eff = dilated(kernel, dilation)
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        length = (size - 1) * stride + k_eff + extra
    elif output_padding is None:
        length = size * stride
    else:
        length = (size - 1) * stride + k_eff % 2 + output_padding
    return tf_span(size, kernel, stride, dilation, padding.upper(), length)


def jax_span(size: int, kernel: int, stride: int, dilation: int, padding: str | tuple[int, int]) -> Span:
    """jax.lax.conv_transpose: pads `(a, b)` of the stride-dilated input, then a valid correlation.

    'SAME'/'VALID' follow `_conv_transpose_padding`; a pair is taken as the transposed conv's own
    padding (the default, `use_consistent_padding=False`).
    """
    k_eff = dilated(kernel, dilation)
    pad_a, pad_b = jax_pair(kernel, stride, dilation, padding)
    length = (size - 1) * stride + 1 + pad_a + pad_b - k_eff + 1
    return Span(k_eff - 1 - pad_a, length)


def jax_pair(kernel: int, stride: int, dilation: int, padding: str | tuple[int, int]) -> tuple[int, int]:
    """The pair of the stride-dilated input jax.lax.conv_transpose pads: 'SAME'/'VALID' by
    `_conv_transpose_padding`, a pair as given."""
    k_eff = dilated(kernel, dilation)
    if padding == "SAME":
        pad_len = k_eff + stride - 2
        pad_a = k_eff - 1 if stride > k_eff - 1 else -(-pad_len // 2)
    elif padding == "VALID":
        pad_len = k_eff + stride - 2 + max(k_eff - stride, 0)
        pad_a = k_eff - 1
    else:
        pad_a, pad_b = padding  # type: ignore[misc]
        return pad_a, pad_b
    return pad_a, pad_len - pad_a


# --- Moving between spans. ------------------------------------------------------------------

def reslice(y: np.ndarray, have: Sequence[Span], want: Sequence[Span], full: Sequence[int]) -> np.ndarray:
    """Crop and zero-extend the spatial dims of `y` (N, C, *spatial) from `have` to `want`.

    Positions of `want` outside `have` must lie past the full result (zeros); anything else
    would be inventing data, so it is an error.
    """
    for h, w, f in zip(have, want, full):
        if not covers(h, w, f):
            raise ValueError(f"span {h} cannot provide {w} (full size {f})")
    return _overlap(y, have, want)


def _overlap(y: np.ndarray, have: Sequence[Span], want: Sequence[Span]) -> np.ndarray:
    """An array over `want` holding `y`'s values (over `have`) where the spans overlap, zeros elsewhere."""
    out = np.zeros(y.shape[:2] + tuple(w.length for w in want), dtype=y.dtype)
    src, dst = [], []
    for h, w in zip(have, want):
        lo, hi = max(h.start, w.start), min(h.stop, w.stop)
        src.append(slice(lo - h.start, max(hi, lo) - h.start))
        dst.append(slice(lo - w.start, max(hi, lo) - w.start))
    out[(Ellipsis, *dst)] = y[(Ellipsis, *src)]
    return out


def upstream_on_span(g: np.ndarray, want: Sequence[Span], have: Sequence[Span]) -> np.ndarray:
    """The adjoint of `reslice` for gradients: the canonical window's upstream gradient `g`
    placed on the framework's span; positions the adapter cropped away get zero gradient, and the
    zero-extended positions (past the framework's output) fall away."""
    return _overlap(np.asarray(g), want, have)


def to_canonical_window(y: np.ndarray, have: Sequence[Span], case: object) -> np.ndarray:
    """A framework's output (N, C, *spatial) covering `have`, cropped or zero-extended to the
    case's canonical window; unchanged when they already agree."""
    wants = canonical_spans(case)
    if list(have) == list(wants):
        return y
    return reslice(y, have, wants, full_sizes(case))


def covers(have: Span, want: Span, full: int) -> bool:
    """Whether `want` can be read from `have`: what it lacks is past the full result."""
    needed_stop = min(want.stop, full)
    if needed_stop <= want.start:
        return True
    return have.start <= want.start and have.stop >= needed_stop


def needs_extension(have: Sequence[Span], want: Sequence[Span]) -> bool:
    """Whether `reslice` would add zeros (positions the framework did not compute)."""
    return any(w.start < h.start or w.stop > h.stop for h, w in zip(have, want))


def torch_plan(size: int, kernel: int, stride: int, dilation: int, want: Span) -> tuple[int, int, Span]:
    """PyTorch `(padding, output_padding)` for a wanted span, and the span PyTorch will give.

    Native when the span is PyTorch-shaped (symmetric crop, extra positions < max(stride,
    dilation) at the end); otherwise the largest symmetric crop inside the wanted one, and the
    adapter crops the rest of PyTorch's output (or appends the zeros past the full result that
    no output_padding PyTorch accepts reaches).
    """
    full = full_size(size, kernel, stride, dilation)
    limit = max(stride, dilation)
    native_extra = want.length - (full - 2 * want.start)
    if 0 <= native_extra < limit:
        return want.start, native_extra, torch_span(size, kernel, stride, dilation, want.start, native_extra)
    padding = max(0, min(want.start, full - want.stop))
    extra = min(max(0, want.stop - (full - padding)), limit - 1)  # past that: zeros the adapter appends
    return padding, extra, torch_span(size, kernel, stride, dilation, padding, extra)


def symmetric_plans(case) -> tuple[list[tuple[int, int, Span]], list[Span]]:  # noqa: ANN001 - a Case
    """Per dim `(padding, output_padding, span)` for a framework that crops symmetrically and adds
    output_padding at the end (PyTorch, MLX: `torch_plan`), and the wanted spans."""
    wants = canonical_spans(case)
    plans = [torch_plan(n, k, s, d, w) for n, k, s, d, w in
             zip(case.input_size, case.kernel_size, case.stride, case.dilation, wants)]
    return plans, wants


def symmetric_translation(who: str, plans: Sequence[tuple[int, int, Span]], wants: Sequence[Span]) -> str | None:
    """The row's translation for `symmetric_plans`: what ran and the crop after it; None when native."""
    have = [p[2] for p in plans]
    if have == list(wants):
        return None
    return (f"{who} crops symmetrically: ran padding={tuple(p[0] for p in plans)}, "
            f"output_padding={tuple(p[1] for p in plans)}, then {describe_reslice(have, wants)}")


def tf_plan(size: int, kernel: int, stride: int, dilation: int, want: Span, *, word: str | None,
            output_size: int | None, explicit_ok: bool) -> tuple[str | tuple[int, int], int, Span]:
    """TensorFlow `(padding, output size)` for a wanted span, and the span TF will give.

    Native for `same` (SAME with in*stride), `valid` and `output_shape` (TF's own rules, VALID
    extending by less than a stride), and explicit `[begin, end]` pairs where TF takes them
    (2-D). Otherwise VALID over the full result, and the adapter crops or zero-extends.
    """
    full = full_size(size, kernel, stride, dilation)

    def consistent(padding: str | tuple[int, int], out: int) -> bool:
        return out >= 1 and tf_forward_size(out, kernel, stride, dilation, padding) == size

    options: list[tuple[str | tuple[int, int], int]] = []
    if output_size is not None and word in ("same", "valid"):
        options.append((word.upper(), output_size))
    if word in ("same", "same_upper"):
        options.append(("SAME", want.length))
    if word == "valid" or want.start == 0:
        options.append(("VALID", want.length))
    if explicit_ok and word is None:
        options.append(((want.start, max(0, full - want.stop)), want.length))
    for padding, out in options:
        if consistent(padding, out) and tf_span(size, kernel, stride, dilation, padding, out) == want:
            return padding, out, want
    return "VALID", full, Span(0, full)


def keras_plan(case: object, wants: Sequence[Span]) -> tuple[str, tuple[int, ...] | None, list[Span]] | None:
    """Keras `(padding, output_padding)` for a case, and the spans Keras gives; None if none covers.

    Keras takes one padding word and one output_padding (None, or an int < stride per dim) for
    all dims. The first candidate that gives exactly the wanted spans is native; otherwise the
    first whose spans cover them (the adapter crops, or zero-extends past the full result).
    """
    c = case
    sizes, kernels, strides, dilations = c.input_size, c.kernel_size, c.stride, c.dilation  # type: ignore[attr-defined]
    word, ops = c.padding_word, c.output_padding  # type: ignore[attr-defined]
    fulls = full_sizes(case)
    extension = tuple(max(0, w.stop - f) for w, f in zip(wants, fulls))
    candidates: list[tuple[str, tuple[int, ...] | None]] = []
    if word in ("same", "same_upper") and c.output_shape is None:  # type: ignore[attr-defined]
        if any(ops) and all(op < s for op, s in zip(ops, strides)):
            # Keras' own form for same + output_padding, run even where its window is not the
            # canonical one: that difference is Keras' convention, and the row must show it.
            native = [keras_span(n, k, s, d, "same", op) for n, k, s, d, op in zip(sizes, kernels, strides, dilations, ops)]
            return "same", tuple(ops), native
        candidates.append(("same", tuple(ops) if any(ops) else None))
    if word == "valid" and c.output_shape is None:  # type: ignore[attr-defined]
        candidates.append(("valid", tuple(ops) if any(ops) else None))
    candidates += [("valid", None), ("valid", extension)]
    usable = []
    for padding, output_padding in candidates:
        if output_padding is not None and any(op >= s for op, s in zip(output_padding, strides)):
            continue  # Keras: output_padding must be strictly less than the stride
        spans = [keras_span(n, k, s, d, padding, None if output_padding is None else op)
                 for n, k, s, d, op in zip(sizes, kernels, strides, dilations, output_padding or [0] * len(sizes))]
        if spans == list(wants):
            return padding, output_padding, spans
        if all(covers(h, w, f) for h, w, f in zip(spans, wants, fulls)):
            usable.append((padding, output_padding, spans))
    return usable[0] if usable else None


def jax_transpose_pads(size: int, kernel: int, stride: int, dilation: int, want: Span) -> tuple[int, int]:
    """The `(before, after)` padding of the stride-dilated input that gives exactly `want`.

    In the zero-insertion view the output starts `k_eff - 1 - before` positions into the full
    result; a padding larger than `k_eff - 1` reads zeros before or after it.
    """
    k_eff = dilated(kernel, dilation)
    before = k_eff - 1 - want.start
    after = want.length - ((size - 1) * stride + 1) + k_eff - 1 - before
    return before, after


def describe_reslice(have: Sequence[Span], want: Sequence[Span]) -> str:
    """What `reslice` does, in words: `dim 0: 1 cropped at the start, 2 zeros appended`."""
    parts = []
    for dim, (h, w) in enumerate(zip(have, want)):
        bits = []
        if w.start > h.start:
            bits.append(f"{w.start - h.start} cropped at the start")
        if h.stop > w.stop:
            bits.append(f"{h.stop - w.stop} cropped at the end")
        if w.stop > h.stop:
            bits.append(f"{w.stop - h.stop} zeros appended")
        if bits:
            parts.append(f"dim {dim}: " + ", ".join(bits))
    return "; ".join(parts)
