"""The dynamo exporter's speed-up (`adapters.torch_onnx._cia_ops_listed_once`) writes the very
model the exporter writes without it, and the op list it keeps is refreshed when ops are added."""

from __future__ import annotations

import importlib.util

import pytest

from harness.casefile import load_cases

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("onnxscript") is None,
    reason="needs PyTorch and onnxscript (the dynamo exporter)")


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
