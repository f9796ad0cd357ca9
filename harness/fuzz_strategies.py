"""Hypothesis strategies for the fuzzer: random valid case mappings, as a user would write them.

Each example is a case-file mapping (the YAML a finding is written as), built so that nearly
every draw is valid: sizes are drawn first and the options that depend on them (crops that
leave at least one position, an `output_shape` its padding's rule accepts) after. Hypothesis
shrinks toward the first option of each choice, so the lists below start with the simplest
value (rank 1, no groups, stride 1, padding 0, float32, no bias), and integers shrink to their
lower bound: a shrunk finding is small and plain.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from harness.geometry import full_length

PADDING_FORMS = ("int", "valid", "same", "same_upper", "same_lower", "per_dim", "pairs")
DISTRIBUTIONS = {  # the data, as generated-array specs (harness.generate)
    "normal": {"distribution": "normal"},
    "positive": {"distribution": "uniform", "low": 0.5, "high": 2.0},
    "integers": {"distribution": "integers", "low": -4, "high": 5},
    "wide": {"distribution": "normal", "scale": 1000.0},
    "tiny": {"distribution": "normal", "scale": 0.001},
}


# Channel counts per group around the SIMD blocks kernels split channels into (8 and 16 lanes of float32,
# 32 of bfloat16 on AVX-512; XLA's CPU convolutions leave Eigen for YNNPACK above 16): a block and its
# remainder are different code. `large` draws them beside the small counts.
WIDE_CHANNELS = (8, 15, 16, 17, 24, 32, 33)
# Widths and batches across the blocks kernels split the positions and the batch into (oneDNN's jit
# kernels unroll 8-28 output columns and handle the rest as a tail; its backward-weights kernels block
# the batch; Eigen packs patches in blocks): `large` draws one of them, or wide channels, per layer.
WIDE_WIDTHS = (7, 8, 9, 15, 16, 17, 31, 32, 33)
WIDE_BATCHES = (3, 8, 16, 17)
WIDE_AXES = ("none", "channels", "width", "batch")  # at most one wide axis a layer: its work stays small


def _channels(draw: st.DrawFn, *, wide: bool) -> int:
    """Channels per group: 1-3, or when this layer's wide axis is the channels also a count across a
    SIMD block size (shrinks to 1)."""
    small = st.integers(1, 3)
    return draw(small | st.sampled_from(WIDE_CHANNELS) if wide else small)


def _sizes(draw: st.DrawFn, rank: int, low: int, high: int) -> list[int]:
    return [draw(st.integers(low, high)) for _ in range(rank)]


def _input_sizes(draw: st.DrawFn, rank: int, *, wide: bool) -> list[int]:
    """1-6 per dim; a wide layer's last dim (its width) may also be a count across an unrolling block,
    the other dims then at most 3 (shrinks to 1)."""
    if not wide:
        return _sizes(draw, rank, 1, 6)
    return [*_sizes(draw, rank - 1, 1, 3), draw(st.integers(1, 6) | st.sampled_from(WIDE_WIDTHS))]


@st.composite
def case_mappings(draw: st.DrawFn, *, dtypes: tuple[str, ...] = ("float32",), checks: tuple[str, ...] = ("forward",),
                  large: bool = False, special: bool = False) -> dict[str, Any]:
    """One case mapping: rank 1-3, batch (0 included), channels, groups and depthwise, kernel sizes
    (up to 12 with `large`; with `large`, one wide axis a layer instead: channel counts across SIMD
    block sizes, a width across unrolling blocks or a batch across batch blocks, then kernels up to
    4 taps), stride, dilation, every padding form, output_padding (also
    between stride and dilation), output_shape in each framework's form, bias, dtype, data; with
    `special`, some inputs or kernels hold inf, -inf, NaN, a huge value or a subnormal."""
    rank = draw(st.integers(1, 3))
    axis = draw(st.sampled_from(WIDE_AXES)) if large else "none"
    grouping = draw(st.sampled_from(["none", "groups", "depthwise"]))
    groups = 1 if grouping == "none" else draw(st.integers(2, 3))
    c_in = groups * (1 if grouping == "depthwise" else _channels(draw, wide=axis == "channels"))
    c_out = groups * _channels(draw, wide=axis == "channels")
    batches = st.integers(1, 2) | st.just(0)
    batch = draw(batches | st.sampled_from(WIDE_BATCHES) if axis == "batch" else batches)
    sizes = _input_sizes(draw, rank, wide=axis == "width")
    wide = (max(c_in, c_out) // groups > 3 or max(sizes) > 6  # keeps a wide layer's work small: the block
            or batch > 2)                                      # code is the point
    kernel = _sizes(draw, rank, 1, 12 if large and not wide else 4)
    stride = _sizes(draw, rank, 1, 4)
    dilation = _sizes(draw, rank, 1, 3)
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    full = [full_length(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    form = draw(st.sampled_from(PADDING_FORMS))
    mapping: dict[str, Any] = {"id": "fuzz", "rank": rank, "batch": batch, "in_channels": c_in, "out_channels": c_out,
                               "input_size": sizes, "kernel_size": kernel, "stride": stride, "dilation": dilation,
                               "groups": groups}
    if form == "int":
        mapping["padding"] = draw(st.integers(0, max(0, (min(f + op for f, op in zip(full, output_padding)) - 1) // 2)))
    elif form == "per_dim":
        mapping["padding"] = [draw(st.integers(0, max(0, (f + op - 1) // 2))) for f, op in zip(full, output_padding)]
    elif form == "pairs":
        pairs = []
        for f, op in zip(full, output_padding):
            begin = draw(st.integers(0, f + op - 1))
            pairs.append([begin, draw(st.integers(0, f + op - 1 - begin))])
        mapping["padding"] = pairs
    else:
        mapping["padding"] = form
    if draw(st.integers(0, 4)) == 0:  # an output_shape, in the form its padding selects
        shape = _output_shape(draw, mapping["padding"], sizes, kernel, stride, dilation, output_padding, full)
        if shape is not None:
            mapping["output_shape"] = shape
            if mapping["padding"] not in ("valid", "same"):  # ONNX's or PyTorch's rule, named
                mapping["output_shape_rule"] = "onnx" if mapping["padding"] in ("same_upper", "same_lower", 0) \
                    else "pytorch"
            if mapping["padding"] in ("valid", "same") or isinstance(mapping["padding"], int) and mapping["padding"]:
                output_padding = [0] * rank
    if any(output_padding):
        mapping["output_padding"] = output_padding
    mapping["dtype"] = draw(st.sampled_from(dtypes))
    data = DISTRIBUTIONS[draw(st.sampled_from(list(DISTRIBUTIONS)))]
    mapping["seed"] = draw(st.integers(0, 1000))
    mapping["input"] = dict(data)
    mapping["kernel"] = dict(data)
    if special and batch and draw(st.integers(0, 2)) == 0:
        which = draw(st.sampled_from(["input", "kernel"]))
        shape = [batch, c_in, *sizes] if which == "input" else [c_in, c_out // groups, *kernel]
        mapping[which] = _with_special_values(draw, shape, seed=mapping["seed"] + (which == "kernel"), data=data)
    if draw(st.booleans()):
        mapping["bias"] = {"seed": mapping["seed"] + 2}
    wanted = [c for c in checks if c != "grad_bias" or "bias" in mapping]
    if wanted != ["forward"]:
        mapping["check"] = wanted
    return mapping


def _output_shape(draw: st.DrawFn, padding: object, sizes: list[int], kernel: list[int], stride: list[int],
                  dilation: list[int], output_padding: list[int], full: list[int]) -> list[int] | None:
    """A size per dim that the padding's `output_shape` rule accepts (see docs/contract.md)."""
    if padding == "same":
        return [n * s - draw(st.integers(0, s - 1)) for n, s in zip(sizes, stride)]
    if padding == "valid":
        shape = []
        for n, k, s, d in zip(sizes, kernel, stride, dilation):
            low = (n - 1) * s + d * (k - 1) + 1
            shape.append(low + draw(st.integers(0, s - 1)))
        return shape
    if padding in ("same_upper", "same_lower", 0):
        return [draw(st.integers(1, f + op + s - 1)) for f, op, s in zip(full, output_padding, stride)]
    if isinstance(padding, int):
        return [f - 2 * padding + draw(st.integers(0, s - 1)) for f, s in zip(full, stride)]
    return None


SPECIAL_VALUES = (float("inf"), float("-inf"), float("nan"), 1e30, 1e-40)


def _with_special_values(draw: st.DrawFn, shape: list[int], *, seed: int, data: dict[str, Any]) -> Any:
    """The generated array written out, with one to three elements replaced by special values."""
    import numpy as np

    from harness.generate import generate

    values = generate(shape, seed=seed, **data)
    if values.size:
        flat = values.reshape(-1)
        for _ in range(draw(st.integers(1, 3))):
            flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(SPECIAL_VALUES))
    return np.asarray(values).tolist()
