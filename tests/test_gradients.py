"""The oracle's gradients (`harness/gradients.py`) against their definitions, in float64.

The adjoint identity `<T(x, w) + b, g> = <x, grad_input> + <b, grad_bias>` (T is linear in x)
and `= <w, grad_weight> + <b, grad_bias>` (linear in w), and central finite differences of
`L = sum(conv_transpose(...) * g)` at random coordinates, over random configurations of every
rank, padding form, output_padding, output_shape, dilation and groups (hypothesis). PyTorch's
autograd, where installed, agrees on a few configurations too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.gradients import gradients
from harness.oracle import conv_transpose


@st.composite
def configurations(draw: st.DrawFn) -> dict:
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    sizes = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    form = draw(st.sampled_from(["int", "pairs", "valid", "same", "same_lower", "onnx_output_shape"]))
    full = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(sizes, kernel, stride, dilation)]
    kwargs: dict = {"stride": stride, "dilation": dilation, "groups": groups, "output_padding": output_padding}
    if form == "int":
        kwargs["padding"] = [draw(st.integers(0, max(0, (f + op - 1) // 2))) for f, op in zip(full, output_padding)]
    elif form == "pairs":
        pairs = []
        for f, op in zip(full, output_padding):
            begin = draw(st.integers(0, f + op - 1))
            pairs.append([begin, draw(st.integers(0, f + op - 1 - begin))])
        kwargs["padding"] = pairs
    elif form == "onnx_output_shape":
        kwargs["output_shape"] = [draw(st.integers(1, f + op + 3)) for f, op in zip(full, output_padding)]
        kwargs["output_shape_rule"] = "onnx"
    else:
        kwargs["padding"] = form
        if form == "valid":
            kwargs["output_padding"] = output_padding
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((draw(st.integers(1, 2)), c_in, *sizes))
    w = rng.standard_normal((c_in, c_out // groups, *kernel))
    return {"x": x, "w": w, "bias": rng.standard_normal(c_out), "rng": rng, "kwargs": kwargs}


@settings(max_examples=150, deadline=None)
@given(configurations())
def test_adjoint_identity(config: dict) -> None:
    x, w, bias, kwargs = config["x"], config["w"], config["bias"], config["kwargs"]
    y = conv_transpose(x, w, bias, **kwargs)
    g = config["rng"].standard_normal(y.shape)
    grads = gradients(x, w, g, **kwargs)
    loss = float(np.sum(y * g))
    by_bias = float(np.dot(bias, grads.grad_bias))
    scale = float(np.sum(np.abs(conv_transpose(np.abs(x), np.abs(w), np.abs(bias), **kwargs) * np.abs(g)))) + 1.0
    assert grads.grad_input.shape == x.shape and grads.grad_weight.shape == w.shape
    assert abs(loss - (float(np.sum(x * grads.grad_input)) + by_bias)) <= 1e-12 * scale
    assert abs(loss - (float(np.sum(w * grads.grad_weight)) + by_bias)) <= 1e-12 * scale


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_finite_differences(config: dict) -> None:
    x, w, bias, kwargs, rng = config["x"], config["w"], config["bias"], config["kwargs"], config["rng"]
    g = rng.standard_normal(conv_transpose(x, w, bias, **kwargs).shape)
    grads = gradients(x, w, g, **kwargs)
    h = 1e-3

    def loss(x_: np.ndarray, w_: np.ndarray, b_: np.ndarray) -> float:
        return float(np.sum(conv_transpose(x_, w_, b_, **kwargs) * g))

    for name, array, analytic in (("x", x, grads.grad_input), ("w", w, grads.grad_weight),
                                  ("bias", bias, grads.grad_bias)):
        index = tuple(int(rng.integers(0, n)) for n in array.shape)
        plus, minus = array.copy(), array.copy()
        plus[index] += h
        minus[index] -= h
        args_plus = {"x": x, "w": w, "bias": bias, name: plus}
        args_minus = {"x": x, "w": w, "bias": bias, name: minus}
        numeric = (loss(args_plus["x"], args_plus["w"], args_plus["bias"])
                   - loss(args_minus["x"], args_minus["w"], args_minus["bias"])) / (2 * h)
        assert numeric == pytest.approx(analytic[index], rel=1e-7, abs=1e-8), (name, index, kwargs)


def test_a_wrong_gradient_is_caught() -> None:
    """The checks above can fail: the gradient of the kernel rotated by 180 degrees breaks the identity."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((2, 3, 3, 2))
    y = conv_transpose(x, w, stride=2, padding=1)
    g = rng.standard_normal(y.shape)
    wrong = gradients(x, w[..., ::-1, ::-1], g, stride=2, padding=1)
    assert abs(np.sum(y * g) - np.sum(x * wrong.grad_input)) > 1e-6


@pytest.mark.torch
def test_agrees_with_pytorch_autograd() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for stride, padding, op, dilation, groups in ((2, 1, 1, 1, 1), (3, 0, 2, 2, 2), (1, 2, 0, 3, 2)):
        x, w, b = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(3 * groups)
        w = w[:, :3] if groups == 1 else rng.standard_normal((4, 3, 3, 2))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        y = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride=stride, padding=padding, output_padding=op,
                                                 groups=groups, dilation=dilation)
        g = rng.standard_normal(tuple(y.shape))
        y.backward(torch.tensor(g))
        ours = gradients(x, w, g, stride=stride, padding=padding, output_padding=op, dilation=dilation, groups=groups)
        np.testing.assert_allclose(ours.grad_input, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.grad_weight, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours.grad_bias, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


def _pairwise(case, *, padded: bool) -> tuple[np.ndarray, np.ndarray]:
    """The gradients pair by pair: each input element, tap and output channel whose product lands
    inside the output adds `g * w` and `x * g`; `padded` also multiplies the positions the crop
    removed by a zero upstream gradient, as a backward pass over the zero-padded gradient does."""
    from itertools import product

    from harness.geometry import full_length
    from harness.oracle import output_windows

    x, w, g = case.input.astype(np.float64), case.kernel.astype(np.float64), case.upstream.astype(np.float64)
    kwargs = case.oracle_kwargs()
    windows = output_windows(case.input_size, case.kernel_size, stride=case.stride, padding=kwargs["padding"],
                             output_padding=case.output_padding, dilation=case.dilation,
                             output_shape=case.output_shape, output_shape_rule=case.output_shape_rule)
    full = [full_length(*a) for a in zip(case.input_size, case.kernel_size, case.stride, case.dilation)]
    c_in_g, c_out_g = case.in_channels // case.groups, case.kernel.shape[1]
    grad_x, grad_w = np.zeros(x.shape), np.zeros(w.shape)
    with np.errstate(invalid="ignore"):
        for n, ci, i, j in product(range(case.batch), range(case.in_channels), np.ndindex(*case.input_size),
                                   np.ndindex(*case.kernel_size)):
            at = [a * s + b * d for a, b, s, d in zip(i, j, case.stride, case.dilation)]
            inside = all(v.start <= p < min(v.stop, f) for p, v, f in zip(at, windows, full))
            if not (inside or padded):
                continue
            for co in range(c_out_g):
                upstream = g[(n, ci // c_in_g * c_out_g + co, *(p - v.start for p, v in zip(at, windows)))] \
                    if inside else 0.0
                grad_x[(n, ci, *i)] += upstream * w[(ci, co, *j)]
                grad_w[(ci, co, *j)] += x[(n, ci, *i)] * upstream
    return grad_x, grad_w


@settings(max_examples=60, deadline=None)
@given(configurations(), st.integers(0, 2**16), st.sampled_from(["input", "kernel"]))
def test_an_inf_meets_the_pairs_inside_the_output_only(config: dict, where: int, operand: str) -> None:
    """With an inf in the input or the kernel, the oracle's gradients are the definition's pair by
    pair (no `inf * 0` at a cropped position), and `structural.gradient_nan_mask` marks exactly
    where a backward pass over the zero-padded upstream gradient gets NaN besides."""
    from harness.casefile import case_from_mapping
    from harness.structural import gradient_nan_mask

    x, w = config["x"].copy(), config["w"].copy()
    target = x if operand == "input" else w
    target.flat[where % target.size] = np.inf
    case = case_from_mapping({"id": "inf", "input": x.tolist(), "kernel": w.tolist(), "dtype": "float64",
                              "check": ["grad_input", "grad_weight"], **config["kwargs"]})
    kwargs = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}
    with np.errstate(invalid="ignore", over="ignore"):
        grads = gradients(case.input, case.kernel, case.upstream, **kwargs)
    definition, padded = _pairwise(case, padded=False), _pairwise(case, padded=True)
    for check, got, want, zero_padded in zip(("grad_input", "grad_weight"), (grads.grad_input, grads.grad_weight),
                                             definition, padded):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=check)
        mask = gradient_nan_mask(case, check)
        mask = np.zeros(want.shape, bool) if mask is None else mask
        assert np.array_equal(np.isnan(zero_padded), np.isnan(want) | mask), check
