"""`output_shape` as each framework's users write it, against the frameworks themselves.

The contract has three rules (`harness.geometry.output_shape_start`): TensorFlow's, the default
(`valid`, `same`), and on request (`output_shape_rule`) ONNX's (no padding, i.e. auto_pad NOTSET,
or `same_upper`/`same_lower`, with `output_padding`) and PyTorch's `output_size=` (an integer
padding). Here the oracle's answer is
compared with ONNX Runtime running the one-node model and with `nn.ConvTranspose1d(...)(x,
output_size=...)`, over a grid of sizes; the sizes with ONNX shape inference; and the case-file
rules with what each framework accepts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.casefile import CaseFileError, case_from_mapping
from harness.geometry import full_length, output_shape_problem, output_window
from harness.oracle import conv_transpose

# size, kernel, stride, dilation
GRID = [g for g in itertools.product((1, 2, 4), (1, 2, 3), (1, 2, 3), (1, 2))]


def _data(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct small integers: any misplaced crop changes the answer."""
    x = np.arange(1, n + 1, dtype=np.float64).reshape(1, 1, n)
    w = np.array([10.0 ** j for j in range(k)]).reshape(1, 1, k)
    return x, w


def _onnx_model(layers: list[tuple[int, int, dict]]):
    """One graph of independent one-node layers (X{i}, W{i} -> Y{i}), one per (n, k, attributes): one
    shape inference and one session for the grid, not 750 (each session costs ~4 ms to build)."""
    from onnx import TensorProto, helper

    nodes, inputs, outputs = [], [], []
    for i, (n, k, attrs) in enumerate(layers):
        nodes.append(helper.make_node("ConvTranspose", [f"X{i}", f"W{i}"], [f"Y{i}"], **attrs))
        inputs += [helper.make_tensor_value_info(f"X{i}", TensorProto.FLOAT, [1, 1, n]),
                   helper.make_tensor_value_info(f"W{i}", TensorProto.FLOAT, [1, 1, k])]
        outputs.append(helper.make_tensor_value_info(f"Y{i}", TensorProto.FLOAT, None))
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.onnxruntime
@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER"])
def test_onnx_output_shape_matches_onnxruntime_and_shape_inference(auto_pad: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    options = ort.SessionOptions()
    options.log_severity_level = 4
    padding = 0 if auto_pad == "NOTSET" else auto_pad.lower()
    layers, feeds = [], {}
    for n, k, s, d in GRID:
        full = full_length(n, k, s, d)
        for op in range(s):  # ONNX Runtime takes output_padding < stride with output_shape
            for size in range(1, full + s):  # it refuses sizes more than stride - 1 past the full result
                x, w = _data(n, k)
                feeds.update({f"X{len(layers)}": x.astype(np.float32), f"W{len(layers)}": w.astype(np.float32)})
                layers.append((n, k, {"strides": [s], "dilations": [d], "output_padding": [op],
                                      "output_shape": [size], "auto_pad": auto_pad}))
    model = _onnx_model(layers)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    results = session.run([f"Y{i}" for i in range(len(layers))], feeds)
    for i, ((n, k, attrs), got) in enumerate(zip(layers, results)):
        (s,), (d,), (op,), (size,) = attrs["strides"], attrs["dilations"], attrs["output_padding"], attrs["output_shape"]
        dims = [dim.dim_value for dim in inferred[i].type.tensor_type.shape.dim]
        # ONNX shape inference stops at (N, C) when output_shape is below the input size
        # (cases/repro/onnx_shape_inference_output_shape.py); the runtimes do not.
        assert dims == ([1, 1, size] if size >= n else [1, 1]), attrs
        x, w = _data(n, k)
        want = conv_transpose(x, w, stride=s, dilation=d, padding=padding, output_padding=op,
                              output_shape=size, output_shape_rule="onnx")
        np.testing.assert_array_equal(got, want, err_msg=f"n={n} k={k} s={s} d={d} op={op} out={size}")
    assert len(layers) > 300


@pytest.mark.torch
def test_pytorch_output_size_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    checked = 0
    for n, k, s, d in GRID:
        full = full_length(n, k, s, d)
        for p in range(3):
            module = torch.nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, dilation=d, bias=False,
                                              dtype=torch.float64)
            x, w = _data(n, k)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(w))
            for size in range(1, full + s + 1):
                problem = output_shape_problem(size, n, k, stride=s, dilation=d, padding=(p, p), rule="pytorch")
                try:
                    with torch.no_grad():
                        got = module(torch.from_numpy(x), output_size=[size]).numpy()
                except (ValueError, RuntimeError):
                    got = None
                if p == 0:  # padding 0 is ONNX's NOTSET rule, which accepts any size; PyTorch's range agrees
                    if got is not None:
                        want = conv_transpose(x, w, stride=s, dilation=d, output_shape=size, output_shape_rule="onnx")
                        np.testing.assert_array_equal(got, want)
                    continue
                assert (problem is None) == (got is not None), (n, k, s, d, p, size, problem)
                if got is not None:
                    want = conv_transpose(x, w, stride=s, dilation=d, padding=p, output_shape=size,
                                          output_shape_rule="pytorch")
                    np.testing.assert_array_equal(got, want, err_msg=f"n={n} k={k} s={s} d={d} p={p} out={size}")
                    checked += 1
    assert checked > 50


def test_onnx_rule_from_the_spec() -> None:
    """The spec's equations, written out: total = s*(n-1) + op + ((k-1)*d + 1) - out;
    SAME_UPPER puts total/2 at the start, NOTSET and SAME_LOWER total - total/2; a negative
    total crops nothing (the zeros go at the end, as in test_convtranspose_output_shape)."""
    for n, k, s, d in GRID:
        for op, size in itertools.product(range(max(s, d)), range(1, full_length(n, k, s, d) + 6)):
            total = s * (n - 1) + op + ((k - 1) * d + 1) - size
            upper = total // 2 if total > 0 else 0
            lower = total - total // 2 if total > 0 else 0
            for padding, start in (((0, 0), lower), ("same_lower", lower), ("same_upper", upper)):
                window = output_window(n, k, stride=s, dilation=d, padding=padding, output_padding=op,
                                       output_shape=size, output_shape_rule="onnx")
                assert (window.start, window.length) == (start, size)


def test_case_files_accept_each_framework_form() -> None:
    base = {"id": "c", "input": [[[1, 2, 3]]], "kernel": [[[1, 1]]], "stride": 3}
    onnx = {**base, "output_shape_rule": "onnx"}
    assert case_from_mapping({**onnx, "output_shape": [7]}).output_shape_form == "onnx"  # NOTSET
    assert case_from_mapping({**onnx, "output_shape": [7], "output_padding": 1}).output_shape == (7,)
    assert case_from_mapping({**onnx, "padding": "same_lower", "output_shape": [5]}).output_shape_form == "onnx"
    pytorch = {**base, "output_shape_rule": "pytorch"}
    assert case_from_mapping({**pytorch, "padding": 1, "output_shape": [7]}).output_shape_form == "pytorch"
    assert case_from_mapping({**base, "padding": "same", "output_shape": [9]}).output_shape_form == "tensorflow"


@pytest.mark.parametrize("extra, field_text", [
    # The contract's original rule: without output_shape_rule, output_shape goes with valid/same only.
    ({"output_shape": [7]}, "add `output_shape_rule: onnx`"),
    ({"padding": 1, "output_shape": [7]}, "goes with padding 'valid' or 'same', not [1, 1]"),
    ({"padding": "same_upper", "output_shape": [9]}, "not same_upper"),
    ({"output_shape_rule": "onnx", "padding": [[1, 0]], "output_shape": [7]}, "not [1, 0]"),
    ({"output_shape_rule": "onnx", "padding": "valid", "output_shape": [7]}, "not valid"),
    ({"output_shape_rule": "pytorch", "padding": 1, "output_shape": [9]}, "PyTorch's output_size must lie in [6, 8]"),
    ({"output_shape_rule": "pytorch", "padding": 1, "output_shape": [7], "output_padding": 1}, "replaces it"),
    ({"padding": "same", "output_shape": [9], "output_padding": 1}, "without output_padding"),
    ({"padding": "valid", "output_shape": [12]}, "TensorFlow's rule"),
    ({"output_shape_rule": "onnx"}, "no output_shape"),
])
def test_case_files_refuse_what_no_framework_means(extra: dict, field_text: str) -> None:
    base = {"id": "c", "input": [[[1, 2, 3]]], "kernel": [[[1, 1]]], "stride": 3}
    with pytest.raises(CaseFileError, match="output_shape") as error:
        case_from_mapping({**base, **extra})
    assert field_text in str(error.value)


def test_the_python_oracle_keeps_the_original_rule() -> None:
    """`conv_transpose(..., output_shape=...)` with the default padding is TensorFlow's rule and
    so an error, as the contract's Python signature always had it; ONNX's rule on request."""
    x, w = _data(3, 2)
    with pytest.raises(ValueError, match="output_shape"):
        conv_transpose(x, w, stride=3, output_shape=7)
    assert conv_transpose(x, w, stride=3, output_shape=7, output_shape_rule="onnx").shape == (1, 1, 7)
