"""The onnx2torch conversion path (`onnx.onnx2torch`): what the converted module is given (the path's
kernel), that the adapter is left out where onnx2torch is not installed (it lives in `tox -e
onnx2torch`), and, in that env, its refusals in the converter's words, its gradients through the
converted module, and the known entry of its finding (output_shape ignored). The flip test
(tests/test_every_adapter_catches_a_flip.py) runs it where it is installed."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from adapters import installed_adapters, select_adapters
from adapters.base import missing_requirements, module_installed
from adapters.onnx2torch_conv import Onnx2Torch, module_arguments, refusal
from harness.casefile import case_from_mapping
from harness.discrepancies import load_discrepancies
from harness.runner import adapter_row, gradient_rows

needs_onnx2torch = pytest.mark.skipif(not module_installed("onnx2torch"),
                                      reason="onnx2torch is not installed (tox -e onnx2torch)")


def _case(**fields):
    base = {"id": "t", "rank": 1, "batch": 1, "in_channels": 2, "out_channels": 3, "input_size": 4,
            "kernel_size": 3, "stride": 2, "seed": 0}
    return case_from_mapping({**base, **fields})


@pytest.mark.parametrize(("fields", "expected"), [
    ({"padding": 1, "output_padding": 1}, ([1], [1])),  # symmetric pads: halved, output_padding as is
    ({"padding": "valid"}, ([0], [0])),
    ({"output_shape": [8], "output_shape_rule": "onnx"}, ([0], [0])),  # output_shape unread: the finding
    ({"padding": "same"}, None),  # refused: SAME_UPPER
    ({"padding": [[2, 0]]}, None),  # refused: asymmetric pads
])
def test_module_arguments(fields, expected) -> None:
    """The padding and output_padding the converter gives nn.ConvTranspose (the path's kernel)."""
    assert module_arguments(_case(**fields)) == expected


def test_left_out_where_onnx2torch_is_missing() -> None:
    """Listed as not installed, naming the module, and selected by no run, exactly when the
    converter is missing (the main environment; `tox -e onnx2torch` has it)."""
    adapter = Onnx2Torch()
    missing = importlib.util.find_spec("onnx2torch") is None
    assert ("onnx2torch" in missing_requirements(adapter)) is missing
    assert ("onnx.onnx2torch" in [a.name for a in installed_adapters()]) is not missing
    assert bool(select_adapters(frameworks=["onnx"], names="onnx.onnx2torch")) is not missing


def test_torchvision_importable_twice() -> None:
    """A no-op without torchvision; where it is installed (PyPI's CUDA build beside CPU torch),
    `import torchvision` works after it, and a second call is harmless."""
    if not module_installed("torch"):
        pytest.skip("torch is not installed")
    from adapters.pytorch import torchvision_importable

    torchvision_importable()
    torchvision_importable()
    if module_installed("torchvision"):
        import torchvision

        assert torchvision.__version__


@needs_onnx2torch
@pytest.mark.parametrize(("fields", "words"), [
    ({"padding": "same"}, '"SAME_UPPER" auto_pad is not implemented'),
    ({"padding": "same_lower"}, '"SAME_LOWER" auto_pad is not implemented'),
    ({"padding": [[2, 0]]}, "ConvTranspose with non symmetrical padding is not implemented"),
])
def test_refusals_in_the_converters_words(fields, words) -> None:
    case = _case(**fields)
    assert words in refusal(case)
    assert Onnx2Torch().supports(case) == refusal(case)


@needs_onnx2torch
def test_a_converted_model_runs_and_names_its_kernel() -> None:
    case = _case(padding=1, output_padding=1)
    adapter = Onnx2Torch()
    assert refusal(case) is None and adapter.supports(case) is None
    assert adapter.path(case).startswith("onnx2torch 1.") and ", torch 2." in adapter.path(case)
    row = adapter_row(case, adapter)
    assert row.status == "pass", row.message
    assert "NCHW" in row.message  # the translation says the layout


@needs_onnx2torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_through_the_converted_module_are_pytorchs(dtype) -> None:
    """The converted module's weight and bias are leaf parameters: its autograd gives what the
    torch.module adapter's gives, in the canonical layouts."""
    from adapters.pytorch import TorchModule

    case = _case(rank=2, input_size=[3, 4], padding=1, dilation=2, groups=1, bias={"seed": 1}, dtype=dtype,
                 check=["forward", "grad_input", "grad_weight", "grad_bias"])
    got, want = Onnx2Torch().gradients(case), TorchModule().gradients(case)
    assert set(got) == set(want) == {"grad_input", "grad_weight", "grad_bias"}
    for key in got:
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6 if dtype == "float32" else 1e-12)
    assert all(r.status == "pass" for r in gradient_rows(case, Onnx2Torch())), \
        [r.message for r in gradient_rows(case, Onnx2Torch())]


@needs_onnx2torch
def test_output_shape_ignored_is_the_known_entry() -> None:
    """The finding: the converted module has the full length, not the model's output_shape; the
    forward row and every gradient row are explained by the entry (xfail), not left as fail/error."""
    case = _case(input_size=5, output_shape=[8], output_shape_rule="onnx", bias={"seed": 1},
                 check=["forward", "grad_input", "grad_weight", "grad_bias"])
    adapter, known = Onnx2Torch(), load_discrepancies()
    assert adapter.run(case).shape == (1, 3, 11)  # (5 - 1) * 2 + 3: output_shape [8] unread
    rows = [adapter_row(case, adapter, discrepancies=known), *gradient_rows(case, adapter, discrepancies=known)]
    assert [r.status for r in rows] == ["xfail"] * 4, [(r.check, r.status, r.message) for r in rows]
    assert all("output_shape" in r.known_issue for r in rows)
