"""The litert-torch conversion path: what its rows send (the key its known entry matches on), and
that the adapter is left out where litert-torch is not installed (it lives in its own tox env).
The flip test (tests/test_every_adapter_catches_a_flip.py) runs it where it is installed."""

from __future__ import annotations

import importlib.util

import pytest

from adapters import installed_adapters, select_adapters
from adapters.base import missing_requirements
from adapters.torch_litert import TorchLiteRt, _output_padding_over_padding
from harness.casefile import case_from_mapping


def _case(**fields):
    base = {"id": "t", "rank": 1, "batch": 1, "in_channels": 1, "out_channels": 1, "input_size": 3,
            "kernel_size": 4, "stride": 2, "seed": 0}
    return case_from_mapping({**base, **fields})


@pytest.mark.parametrize(("fields", "expected"), [
    ({"padding": 1, "output_padding": 1}, True),   # the positions output_padding adds hold values
    ({"padding": 0, "output_padding": 1}, False),  # past the full result: zeros are right
    ({"padding": 1, "output_padding": 0}, False),
    ({"padding": 1, "output_shape": [7], "output_shape_rule": "pytorch"}, True),  # output_size=: op 1
    ({"padding": 1, "output_shape": [6], "output_shape_rule": "pytorch"}, False),
])
def test_output_padding_over_padding(fields, expected) -> None:
    case = _case(**fields)
    assert _output_padding_over_padding(case) is expected
    assert TorchLiteRt().sent(case)["output_padding_over_padding"] == ("yes" if expected else "no")


def test_left_out_where_litert_torch_is_missing() -> None:
    """Listed as not installed, naming the module, and selected by no run, exactly when the
    converter is missing (the main environment; `tox -e litert_torch` has it)."""
    adapter = TorchLiteRt()
    missing = importlib.util.find_spec("litert_torch") is None
    assert ("litert_torch" in missing_requirements(adapter)) is missing
    assert ("torch.litert_torch" in [a.name for a in installed_adapters()]) is not missing
    assert bool(select_adapters(frameworks=["torch"], names="torch.litert_torch")) is not missing
