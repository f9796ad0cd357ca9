"""The dynamo exporter's speed-up (`adapters.torch_onnx._cia_ops_listed_once`) writes the very
model the exporter writes without it, and the op list it keeps is refreshed when ops are added."""

from __future__ import annotations

import importlib.util

import pytest

from harness.casefile import load_cases

pytestmark = [pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnxscript") is None,
    reason="needs PyTorch and onnxscript (the dynamo exporter)"),
    # in the worker that runs the matrix's torch.onnx_dynamo items: the exporter's first call in a process
    # (its registry of ops, ~4 s) is paid once
    pytest.mark.xdist_group("torch.onnx_dynamo")]


def _public_export(case) -> bytes:  # noqa: ANN001
    """What `torch.onnx.export(dynamo=True)` itself writes for the adapter's layer (no speed-up)."""
    import torch

    from adapters.pytorch import _tensor
    from adapters.torch_onnx import DYNAMO_OPSET, model_layer

    program = torch.onnx.export(model_layer(case), (_tensor(case.input, case.dtype),), dynamo=True,
                                input_names=["X"], output_names=["Y"], opset_version=DYNAMO_OPSET, verbose=False)
    return program.model_proto.SerializeToString()


# Every 37th case of three files: strides, dilations, crops, output_padding, output_size and dtypes.
CASES = load_cases(["cases/shapes.yaml", "cases/padding.yaml", "cases/output_shape.yaml"])[::37]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_fast_export_is_the_public_exports_model_byte_for_byte(case) -> None:  # noqa: ANN001
    from adapters.torch_onnx import TorchOnnxDynamo, _exported

    if TorchOnnxDynamo().supports(case) is not None:
        pytest.skip(f"not exported: {TorchOnnxDynamo().supports(case)}")
    assert _exported(case, dynamo=True) == _public_export(case)


def test_the_kept_op_list_is_the_fresh_one_and_follows_new_registrations() -> None:
    import torch
    from torch._export import utils
    from torch.export import exported_program

    from adapters.torch_onnx import _cia_ops_listed_once

    original = utils._collect_all_valid_cia_ops
    with _cia_ops_listed_once():
        fast = exported_program._collect_all_valid_cia_ops
        assert fast is not original
        assert fast() == original()
        library = torch.library.Library("tconv_test_ns", "DEF")  # a new namespace with a composite op
        library.define("twice(Tensor x) -> Tensor")
        library.impl("twice", lambda x: x * 2, "CompositeImplicitAutograd")
        assert any(op.name() == "tconv_test_ns::twice" for op in fast())
        assert fast() == original()
    assert exported_program._collect_all_valid_cia_ops is original


def _without_metadata(model_bytes: bytes):  # noqa: ANN202 - an onnx.ModelProto
    """The model with its `metadata_props` cleared everywhere: the exporter's debugging notes (the
    source line, the fx node's name, the program's signature), which name the batch's module."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    for part in (model, graph, *graph.node, *graph.input, *graph.output, *graph.value_info, *graph.initializer):
        del part.metadata_props[:]
    return model


# A batch of the five files' every 8th float32 case and every 9th other one: the layers side by side.
BATCH = [c for n, c in enumerate(load_cases(["cases/shapes.yaml", "cases/padding.yaml", "cases/output_shape.yaml",
                                             "cases/dtypes.yaml", "cases/ranks.yaml"]))
         if n % (8 if c.dtype == "float32" else 9) == 0]


def _outcome(model: bytes, x):  # noqa: ANN001, ANN202
    """ONNX Runtime's result for the model, or its error message."""
    from adapters.onnx_runtime import cpu_session

    try:
        return cpu_session(model).run(["Y"], {"X": x})[0]
    except Exception as error:  # noqa: BLE001
        return str(error).split("Status Message:")[-1]


def test_a_layer_cut_from_a_batched_export_is_its_single_export() -> None:
    import numpy as np

    from adapters.torch_onnx import TorchOnnxDynamo, _dynamo_exported_together, _exported, _input

    adapter = TorchOnnxDynamo()
    cases = [c for c in BATCH if adapter.supports(c) is None]
    by_dtype: dict[str, list] = {}
    for case in cases:
        by_dtype.setdefault(case.dtype, []).append(case)
    assert len(cases) >= 20 and len(by_dtype) >= 2
    compared = 0
    for batch in by_dtype.values():
        for case, cut in zip(batch, _dynamo_exported_together(batch), strict=True):
            alone = _exported(case, dynamo=True)
            assert _without_metadata(cut) == _without_metadata(alone), case.id  # names and all
            cut_y, alone_y = _outcome(cut, _input(case)), _outcome(alone, _input(case))
            assert type(cut_y) is type(alone_y), case.id  # ONNX Runtime refuses some (a known entry): both then
            assert np.array_equal(cut_y, alone_y, equal_nan=True) if isinstance(cut_y, np.ndarray) else cut_y == alone_y
            compared += 1
    assert compared == len(cases)


def test_prepare_exports_ahead_and_a_failing_layer_is_left_to_its_row(monkeypatch) -> None:
    """`prepare` hands `run` the cut models (no export left to do), halves a batch around a layer
    that fails, and leaves that layer to its row."""
    from adapters import torch_onnx
    from harness import model_cache
    from harness.runner import adapter_row

    adapter = torch_onnx.TorchOnnxDynamo()
    cases = [c for c in BATCH if c.dtype == "float32" and adapter.supports(c) is None][:6]
    real = torch_onnx._dynamo_exported_together
    refused = cases[4]

    def together(batch):  # noqa: ANN001, ANN202 - the real export, refusing one layer as a converter might
        if refused in batch:
            raise RuntimeError("cannot export this one")
        return real(batch)

    monkeypatch.setattr(torch_onnx, "_dynamo_exported_together", together)
    with model_cache.disabled():
        torch_onnx._PREPARED.clear()
        adapter.prepare(cases)
        assert set(torch_onnx._PREPARED) == {model_cache.layer_key(adapter.name, c) for c in cases if c is not refused}
        exported_alone = []
        monkeypatch.setattr(torch_onnx, "_exported", lambda case, dynamo: exported_alone.append(case) or real([case])[0])
        rows = [adapter_row(case, adapter) for case in cases]
    assert exported_alone == [refused] and not torch_onnx._PREPARED
    assert [r.status for r in rows] == ["pass"] * len(cases), [r.message for r in rows]
