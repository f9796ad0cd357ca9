"""The OpenVINO adapters (`adapters/openvino_runtime.py`): the built-in suite runs on both, a kernel
flipped at the boundary is caught, and the padding forms translate to the attributes OpenVINO's own
shape rule needs for the canonical window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adapters.layout import rot180
from adapters.openvino_batch import batchable
from adapters.openvino_runtime import ADAPTERS, OpenVinoOnnx, OpenVinoOpset, backprop_attributes, openvino_span
from harness.case import Case
from harness.casefile import case_from_mapping, load_cases
from harness.discrepancies import KnownDiscrepancies, load_discrepancies
from harness.model_cache import layer_key
from harness.oracle import conv_transpose
from harness.runner import adapter_row, run
from tests.conftest import REPO

pytest.importorskip("openvino")  # the adapter module imports OpenVINO only on first use
pytestmark = pytest.mark.openvino

OPENVINO_ENTRIES = ("openvino_empty_channels", "openvino_onnx_empty_groups", "openvino_onnx_same_stride_beyond_kernel",
                    "openvino_onnx_same_upper_output_shape", "openvino_onnx_output_shape_groups",
                    "openvino_amx_bfloat16_group_deconvolution_segfault", "openvino_1x1_output_padding_auto_pad",
                    "openvino_amx_bfloat16_bias_stride_gaps")


def _table() -> KnownDiscrepancies:
    """The project's known-discrepancy table (it has the OpenVINO entries)."""
    return load_discrepancies()


def _case(**fields) -> Case:
    """A generated case from a mapping (the casefile's own validation)."""
    return case_from_mapping({"id": "t", "batch": 2, "in_channels": 2, "out_channels": 3, "seed": 5, **fields})


@pytest.fixture(scope="module")
def suite():
    """Every built-in case on both adapters, labelled with the project's table plus the proposed entries."""
    table = _table()
    # The padding forms, output_shape rules, dtypes, ranks and empty tensors: every OpenVINO entry's
    # rows are among them (the project's matrix runs the rest, compared with the baseline).
    files = ["padding.yaml", "output_shape.yaml", "dtypes.yaml", "ranks.yaml", "empty.yaml", "seeds.yaml"]
    return run(load_cases([REPO / "cases" / f for f in files]), list(ADAPTERS), discrepancies=table), table


def test_every_builtin_case_runs_and_every_failure_is_explained(suite) -> None:
    result, table = suite
    rows = [r for r in result.rows if r.adapter in {a.name for a in ADAPTERS}]
    unexplained = [f"{r.case_file}::{r.case_id}[{r.adapter}] {r.status}: {r.message[:200]}"
                   for r in rows if r.status in ("fail", "error")]
    assert not unexplained, "\n".join(unexplained[:20])
    forward = [r for r in rows if r.check == "forward"]
    for adapter in ADAPTERS:
        passed = [r for r in forward if r.adapter == adapter.name and r.status == "pass"]
        assert len(passed) >= 150, f"{adapter.name}: only {len(passed)} passing rows"
    ours = {e.label for e in table.entries if any(name in (e.reproducer or "") for name in OPENVINO_ENTRIES)}
    filed = {name for name in OPENVINO_ENTRIES for e in table.entries if name in (e.reproducer or "")}
    assert filed == set(OPENVINO_ENTRIES), "every OpenVINO reproducer has its entries in the table"
    assert not ours & {e.label for e in table.stale()}, "an OpenVINO entry explains nothing"


def test_unsupported_rows_are_float64_or_gradients_only(suite) -> None:
    result, _ = suite
    for row in result.rows:
        if row.adapter in {a.name for a in ADAPTERS} and row.status == "unsupported":
            assert row.check != "forward" or row.params["dtype"] == "float64", (row.case_id, row.message)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_float64_is_unsupported_only_because_the_plugin_computes_it_in_float32(adapter) -> None:
    """Established by the runtime model: the Deconvolution node of an f64 model runs in f32."""
    case = _case(input_size=[3, 3], kernel_size=2, dtype="float64")
    reason = adapter.supports(case)
    if reason is None:  # a release that computes float64 natively: the row must then pass
        assert adapter_row(case, adapter).status == "pass"
    else:
        assert "computes float64 in f32" in reason
        y = adapter.run(case)  # run anyway: float32 products and sums are ~1e-7 off, not float64's ~1e-16
        assert y.dtype == np.float64
        assert not np.allclose(y, conv_transpose(case.input, case.kernel), rtol=1e-12, atol=0)


def _flipped(base: type) -> object:
    """An adapter of class `base` handed the kernel rotated by 180 degrees (a slip at its boundary)."""

    class Flipped(base):  # type: ignore[misc, valid-type]
        name = f"{base.name}.flipped"

        def run(self, case: Case) -> np.ndarray:
            return super().run(dataclasses.replace(case, kernel=rot180(case.kernel)))

    return Flipped()


@pytest.mark.parametrize("base", [OpenVinoOpset, OpenVinoOnnx], ids=lambda b: b.name)
def test_a_flipped_kernel_fails(base) -> None:
    cases = [c for c in load_cases([REPO / "cases" / "seeds.yaml", REPO / "cases" / "channels.yaml",
                                    REPO / "cases" / "ranks.yaml"])
             if c.dtype == "float32" and c.input.size and c.kernel.size and not np.array_equal(rot180(c.kernel), c.kernel)]
    cases = cases[::3]  # every third: each file and rank still, a compile per row (~40 ms) for a third as many
    assert len(cases) >= 10 and {c.rank for c in cases} == {1, 2, 3}
    rows = [r for r in run(cases, [_flipped(base)]).rows if r.adapter.endswith(".flipped")]
    failing = [r for r in rows if r.status == "fail"]
    assert len(failing) == len(rows), [(r.case_id, r.status, r.message[:80]) for r in rows if r.status != "fail"]
    named = [r for r in failing if r.diagnosis.startswith("kernel rotated 180 degrees")]
    assert len(named) >= 0.9 * len(failing), [(r.case_id, r.diagnosis) for r in failing if r not in named][:5]


# (case fields, expected OpenVINO attributes) for the padding forms; each also runs and must pass.
TRANSLATIONS = [
    pytest.param({"input_size": [5], "kernel_size": 3, "stride": 2, "padding": "same_lower"},
                 {"auto_pad": "same_upper", "output_shape": [10]}, id="same_lower-1d"),
    pytest.param({"input_size": [5], "kernel_size": 3, "stride": 2, "padding": "same"},
                 {"auto_pad": "same_lower", "output_shape": [10]}, id="same-1d"),
    pytest.param({"input_size": [3, 4], "kernel_size": 3, "stride": 2, "padding": "same", "output_shape": [5, 8]},
                 {"auto_pad": "same_lower", "output_shape": [5, 8]}, id="output_shape-same"),
    pytest.param({"input_size": [3, 4], "kernel_size": 3, "stride": 2, "padding": "valid", "output_shape": [8, 10]},
                 {"auto_pad": "valid", "output_shape": [8, 10]}, id="output_shape-valid"),
    pytest.param({"input_size": [3, 4], "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
                 {"auto_pad": "explicit", "pads_begin": [1, 1], "pads_end": [1, 1], "output_padding": [1, 1]},
                 id="output_padding"),
    pytest.param({"input_size": [4, 4], "kernel_size": 3, "stride": 1, "dilation": 2, "padding": [[2, 1], [0, 3]]},
                 {"auto_pad": "explicit", "pads_begin": [2, 0], "pads_end": [1, 3], "dilations": [2, 2]},
                 id="dilation-explicit-pairs"),
    pytest.param({"in_channels": 4, "out_channels": 6, "groups": 2, "input_size": [3, 3], "kernel_size": 2,
                  "stride": 2, "bias": {"seed": 9}}, {"auto_pad": "explicit", "pads_begin": [0, 0]}, id="groups-bias"),
    pytest.param({"in_channels": 3, "out_channels": 3, "groups": 3, "input_size": [2, 3, 4], "kernel_size": [2, 3, 2],
                  "stride": [1, 2, 3], "padding": "valid", "output_padding": [0, 1, 2]},
                 {"auto_pad": "valid", "output_padding": [0, 1, 2]}, id="depthwise-3d-valid"),
    pytest.param({"input_size": [3], "kernel_size": 1, "stride": 3, "padding": "same"},
                 {"auto_pad": "same_lower", "output_shape": [9]}, id="same-stride-beyond-kernel"),
]


@pytest.mark.parametrize("fields, expected", TRANSLATIONS)
def test_padding_forms_translate_to_openvino_attributes_and_pass(fields, expected) -> None:
    case = _case(**fields)
    attrs = backprop_attributes(case)
    assert {k: attrs[k] for k in expected} == expected
    spans = [openvino_span(n, k, s, d, pads=(attrs.get("pads_begin", [0] * case.rank)[i],
                                             attrs.get("pads_end", [0] * case.rank)[i]),
                           output_padding=attrs["output_padding"][i], auto_pad=attrs["auto_pad"],
                           output_shape=attrs["output_shape"][i] if "output_shape" in attrs else None).length
             for i, (n, k, s, d) in enumerate(zip(case.input_size, case.kernel_size, case.stride, case.dilation))]
    expected_shape = conv_transpose(case.input, case.kernel, **case.oracle_kwargs()).shape
    assert tuple(spans) == expected_shape[2:]
    opset = ADAPTERS[0]
    row = adapter_row(case, opset)
    assert row.status == "pass", row.message
    assert row.path.startswith("f32"), row.path  # float32 computed in float32 (the precision hint)
    assert row.sent_map["op"] == ("GroupConvolutionBackpropData" if case.groups > 1 else "ConvolutionBackpropData")
    onnx_row = adapter_row(case, ADAPTERS[1], discrepancies=_table())
    assert onnx_row.status in ("pass", "xfail"), onnx_row.message


def test_openvino_same_upper_crops_the_larger_half_first() -> None:
    """OpenVINO's own shape rule (with output_shape), as the adapter relies on it: total 1, same_upper
    starts at 1 and same_lower at 0; without output_shape same_* crop nothing."""
    assert openvino_span(3, 3, 2, 1, auto_pad="same_upper", output_shape=6).start == 1
    assert openvino_span(3, 3, 2, 1, auto_pad="same_lower", output_shape=6).start == 0
    assert openvino_span(3, 3, 2, 1, auto_pad="same_upper").length == 7
    case = _case(input_size=[3], kernel_size=3, stride=2, padding="same_lower", batch=1, in_channels=1, out_channels=1)
    y = ADAPTERS[0].run(case)
    full = conv_transpose(case.input, case.kernel, stride=2)
    np.testing.assert_allclose(y, full[..., 1:7], rtol=1e-6)


# --- several layers in one compile (`prepare`, adapters/openvino_batch.py) --------------------------------------


def _alone(adapter, case: Case) -> tuple[np.ndarray, str]:
    """The case's output and path from a compile of its own layer."""
    adapter.compiled.cache_clear()
    return adapter.run(case), adapter.path(case)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_a_layer_compiled_in_a_batch_gives_its_compile_alones_answer_and_path(adapter) -> None:
    from adapters.openvino_runtime import _PREPARED

    cases = [c for c in load_cases([REPO / "cases" / f for f in ("shapes.yaml", "output_shape.yaml", "dtypes.yaml")])
             if batchable(c)][::3]  # float64 too (unsupported): its row asks for the path all the same
    assert len({c.dtype for c in cases}) == 4 and {c.rank for c in cases} == {1, 2, 3} and len(cases) >= 30
    alone = [_alone(adapter, c) for c in cases]
    adapter.compiled.cache_clear()
    _PREPARED.clear()
    adapter.prepare(cases)
    assert len(_PREPARED) == len(cases), "every layer was compiled in a batch"
    for case, (y, path) in zip(cases, alone):
        prepared = _PREPARED[layer_key(adapter.name, case)]
        assert prepared.node is not None and len(prepared.model.outputs) == sum(c.dtype == case.dtype for c in cases)
        batched, batched_path = adapter.run(case), adapter.path(case)
        assert batched.dtype == y.dtype and batched.shape == y.shape, case.full_id
        assert np.array_equal(batched, y), f"{case.full_id}: {np.abs(batched - y).max()}"
        assert batched_path == path and "runtime" in path, (case.full_id, path)
    assert not _PREPARED, "each row took its layer"


def test_a_layer_that_fails_in_a_batch_is_left_to_its_own_row() -> None:
    """A batch that cannot be built or compiled is halved until the failing layer is alone; the
    others are compiled in batches, and that layer's row fails with its own error."""
    from adapters.openvino_runtime import _PREPARED

    cases = [c for c in load_cases([REPO / "cases" / "shapes.yaml"]) if c.dtype == "float32" and batchable(c)][:12]
    broken = cases[5]

    class Refusing(OpenVinoOpset):
        name = "openvino.opset.refusing"

        def model(self, case: Case):  # noqa: ANN201
            if case is broken:
                raise RuntimeError("this layer cannot be built")
            return super().model(case)

    adapter = Refusing()
    _PREPARED.clear()
    adapter.prepare(cases)
    assert set(_PREPARED) == {layer_key(adapter.name, c) for c in cases if c is not broken}
    for case in cases:
        row = adapter_row(case, adapter)
        if case is broken:
            assert row.status == "error" and row.message.startswith("RuntimeError: this layer cannot be built")
        else:
            assert row.status == "pass", (case.full_id, row.status, row.message)
    assert not _PREPARED
