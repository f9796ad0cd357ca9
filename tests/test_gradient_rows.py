"""Gradient rows: a case's `check:` list, the runner's gradient rows, and that a wrong gradient fails.

The adapters with autodiff are checked by `cases/gradients.yaml` through the conformance matrix;
here a test-only adapter (the oracle's own gradients, one of them deliberately wrong) shows the
rows can fail, and that each gradient is judged on its own.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import Adapter
from harness.casefile import CaseFileError, case_from_mapping
from harness.dtypes import numpy_dtype
from harness.gradients import gradients
from harness.oracle import conv_transpose
from harness.runner import gradient_rows, run

CASE = {"id": "g", "batch": 2, "in_channels": 3, "out_channels": 2, "input_size": [4, 3], "kernel_size": 3,
        "stride": 2, "padding": 1, "bias": {"seed": 1}, "check": ["forward", "grad_input", "grad_weight", "grad_bias"]}


class OracleGradients(Adapter):
    """The oracle's gradients, with one slip chosen by `wrong`."""

    framework = "test"

    def __init__(self, wrong: str | None) -> None:
        self.wrong = wrong
        self.name = f"test.gradients-wrong-{wrong}"

    def run(self, case):
        return conv_transpose(case.input, case.kernel, **case.oracle_kwargs()).astype(numpy_dtype(case.dtype))

    def gradients(self, case):
        kwargs = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}
        kernel = case.kernel[..., ::-1, ::-1] if self.wrong == "grad_input" else case.kernel
        found = gradients(case.input, kernel, case.upstream, **kwargs)
        dtype = numpy_dtype(case.dtype)
        grads = {"grad_input": found.grad_input.astype(dtype), "grad_weight": found.grad_weight.astype(dtype),
                 "grad_bias": found.grad_bias.astype(dtype)}
        if self.wrong == "grad_weight":  # 1.5 times the right value: a slip in a reduction
            grads["grad_weight"] = (found.grad_weight * 1.5).astype(dtype)
        if self.wrong == "grad_bias":  # the bias gradient summed over the batch's first sample only
            grads["grad_bias"] = case.upstream[:1].sum(axis=(0, 2, 3)).astype(dtype)
        return grads


@pytest.mark.parametrize("wrong", ["grad_input", "grad_weight", "grad_bias"])
def test_a_wrong_gradient_fails_only_its_own_row(wrong: str) -> None:
    case = case_from_mapping(CASE)
    rows = {r.check: r for r in gradient_rows(case, OracleGradients(wrong))}
    assert set(rows) == {"grad_input", "grad_weight", "grad_bias"}
    assert rows[wrong].status == "fail" and rows[wrong].tol_ratio > 1
    assert all(r.status == "pass" for check, r in rows.items() if check != wrong)
    assert f"[test.gradients-wrong-{wrong}:{wrong}]" in rows[wrong].bug_report()


def test_right_gradients_pass_in_every_dtype() -> None:
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        case = case_from_mapping({**CASE, "dtype": dtype})
        assert {r.status for r in gradient_rows(case, OracleGradients(None))} == {"pass"}, dtype


def test_a_run_has_one_row_per_check() -> None:
    case = case_from_mapping(CASE)
    rows = run([case], [OracleGradients(None)]).rows
    assert [r.check for r in rows] == ["forward", "grad_input", "grad_weight", "grad_bias"]


def test_an_adapter_without_autodiff_is_unsupported() -> None:
    from adapters.numpy_scatter import ADAPTERS

    rows = gradient_rows(case_from_mapping(CASE), ADAPTERS[0])
    assert {r.status for r in rows} == {"unsupported"}
    assert "no gradients" in rows[0].message


def test_case_files_check_gradients() -> None:
    case = case_from_mapping({**CASE, "check": "grad_input"})
    assert case.checks == ("grad_input",) and case.upstream.shape == (2, 2, 7, 5)
    with pytest.raises(CaseFileError, match="grad_bias needs a bias"):
        case_from_mapping({**CASE, "bias": None, "check": ["grad_bias"]})
    with pytest.raises(CaseFileError, match="upstream"):
        case_from_mapping({**CASE, "upstream": {"shape": [2, 2, 3, 3]}})
    with pytest.raises(CaseFileError, match="check"):
        case_from_mapping({**CASE, "check": ["backward"]})


class FlushingGradients(OracleGradients):
    """The right gradients of the case with subnormal inputs flushed to zero (FTZ/DAZ)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.name = "test.flushing-gradients"

    def gradients(self, case):
        from harness.dtypes import smallest_normal

        tiny = smallest_normal(case.dtype)
        flush = lambda a: np.where(np.abs(a) < tiny, 0.0, a)  # noqa: E731
        kwargs = {k: v for k, v in case.oracle_kwargs().items() if k != "bias"}
        found = gradients(flush(case.input), flush(case.kernel), flush(case.upstream), **kwargs)
        dtype = numpy_dtype(case.dtype)
        return {"grad_input": found.grad_input.astype(dtype), "grad_weight": found.grad_weight.astype(dtype),
                "grad_bias": found.grad_bias.astype(dtype)}


def test_gradients_of_flushed_subnormals_are_accepted_unless_the_case_demands_them() -> None:
    tiny = {**CASE, "dtype": "float16", "input": {"distribution": "normal", "scale": 0.0001},
            "kernel": {"distribution": "normal", "scale": 0.01}}
    rows = gradient_rows(case_from_mapping(tiny), FlushingGradients())
    assert {r.status for r in rows} == {"pass"}
    assert any("subnormals flushed" in r.message for r in rows)
    strict = gradient_rows(case_from_mapping({**tiny, "gradual_underflow": True}), FlushingGradients())
    assert "fail" in {r.status for r in strict}
