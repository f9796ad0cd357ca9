"""Empty tensors: batch 0, C_in 0 and C_out 0 are cases a user can write, and the oracle answers them.

The canonical answers: N = 0 or C_out = 0 is an empty array of the right shape; C_in = 0 is a sum
of no terms, so every output is 0 plus the bias. A spatial size of 0 stays malformed (it has no
output size).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.numpy_matrix import NumpyMatrix
from adapters.numpy_scatter import NumpyScatter
from adapters.numpy_zero_insertion import NumpyZeroInsertion
from harness.casefile import CaseFileError, case_from_mapping, load_cases
from harness.generate import generate, is_degenerate
from harness.oracle import conv_transpose
from tests.conftest import REPO

pytestmark = pytest.mark.numpy

EMPTY = REPO / "cases" / "empty.yaml"
SHORTHAND = {"id": "e", "input_size": [4, 5], "kernel_size": 3, "stride": 2, "bias": {"seed": 3}}


@pytest.mark.parametrize("counts, x_shape, w_shape", [
    ({"batch": 0, "in_channels": 3, "out_channels": 2}, (0, 3, 4, 5), (3, 2, 3, 3)),
    ({"batch": 2, "in_channels": 0, "out_channels": 2}, (2, 0, 4, 5), (0, 2, 3, 3)),
    ({"batch": 2, "in_channels": 3, "out_channels": 0}, (2, 3, 4, 5), (3, 0, 3, 3)),
    ({"batch": 0, "in_channels": 0, "out_channels": 0, "groups": 2}, (0, 0, 4, 5), (0, 0, 3, 3)),
], ids=["batch", "in_channels", "out_channels", "all-groups"])
def test_shorthand_counts_of_zero(counts: dict, x_shape: tuple, w_shape: tuple) -> None:
    case = case_from_mapping({**SHORTHAND, **counts})
    assert case.input.shape == x_shape and case.kernel.shape == w_shape
    assert case.bias is not None and case.bias.shape == (w_shape[1] * case.groups,)
    assert (case.batch, case.in_channels, case.out_channels) == (x_shape[0], x_shape[1], w_shape[1] * case.groups)


def test_left_out_counts_keep_their_defaults() -> None:
    case = case_from_mapping({**SHORTHAND, "in_channels": 2})
    assert case.input.shape == (1, 2, 4, 5) and case.kernel.shape == (2, 1, 3, 3)


def test_explicit_generated_empty_arrays() -> None:
    case = case_from_mapping({"id": "e", "input": {"shape": [0, 3, 4, 4]}, "kernel": {"shape": [3, 2, 3, 3]},
                              "expected_shape": [0, 2, 6, 6]})
    assert case.input.shape == (0, 3, 4, 4) and case.expected_shape == (0, 2, 6, 6)
    assert not case.input.flags.writeable


@pytest.mark.parametrize("mapping, field", [
    ({"input": {"shape": [1, 3, 0, 4]}, "kernel": {"shape": [3, 2, 3, 3]}}, "input"),
    ({"input": {"shape": [1, 3, 4, 4]}, "kernel": {"shape": [3, 2, 0, 3]}}, "kernel"),
    ({"in_channels": 2, "input_size": [0, 4], "kernel_size": 3}, "input_size"),
    ({"batch": -1, "input_size": [4, 4], "kernel_size": 3}, "batch"),
])
def test_spatial_zero_and_negative_counts_are_malformed(mapping: dict, field: str) -> None:
    with pytest.raises(CaseFileError) as error:
        case_from_mapping({"id": "e", **mapping})
    assert error.value.field.split(".")[0] == field


def test_an_empty_nested_list_points_to_generated_arrays() -> None:
    with pytest.raises(CaseFileError) as error:
        case_from_mapping({"id": "e", "input": [], "kernel": [[1, 2], [3, 4]]})
    assert error.value.field == "input" and "shape: [0, 3, 4, 4]" in error.value.message


def test_generator_allows_empty_arrays_but_not_constant_ones() -> None:
    assert generate((3, 0, 2, 2), seed=0, spatial_axes=(2, 3)).shape == (3, 0, 2, 2)
    assert not is_degenerate(np.zeros((0, 2, 2, 2)), spatial_axes=(2, 3))
    assert is_degenerate(np.ones((2, 2)))


@pytest.mark.parametrize("groups", [1, 2])
def test_oracle_in_channels_zero_is_the_bias(groups: int) -> None:
    bias = np.array([1.5, -2.0, 0.25, 3.0])
    y = conv_transpose(np.zeros((2, 0, 3, 4)), np.zeros((0, 4 // groups, 2, 3)), bias, stride=2, padding=1,
                       groups=groups)
    assert y.shape == (2, 4, 4, 7) and y.dtype == np.float64
    np.testing.assert_array_equal(y, np.broadcast_to(bias.reshape(1, 4, 1, 1), y.shape))
    assert not conv_transpose(np.zeros((1, 0, 5)), np.zeros((0, 2, 3))).any()


@pytest.mark.parametrize("x_shape, w_shape, groups, out_shape", [
    ((0, 3, 4, 5), (3, 2, 3, 3), 1, (0, 2, 9, 11)),
    ((2, 3, 4, 5), (3, 0, 3, 3), 1, (2, 0, 9, 11)),
    ((1, 4, 5), (4, 0, 2), 2, (1, 0, 10)),
    ((0, 0, 4), (0, 0, 2), 1, (0, 0, 8)),
], ids=["batch", "out_channels", "out_channels-groups", "all"])
def test_oracle_empty_batch_or_out_channels(x_shape: tuple, w_shape: tuple, groups: int, out_shape: tuple) -> None:
    bias = np.zeros(w_shape[1] * groups)
    y = conv_transpose(np.ones(x_shape), np.ones(w_shape), bias, stride=2, groups=groups)
    assert y.shape == out_shape and y.size == 0 and y.dtype == np.float64


def test_empty_case_file_matches_its_shapes_and_the_numpy_formulations() -> None:
    cases = load_cases([EMPTY])
    ids = {c.id for c in cases}
    assert {"batch-0", "in-channels-0", "out-channels-0"} <= ids
    assert {c.rank for c in cases} == {1, 2} and any(c.bias is not None for c in cases)
    for case in cases:
        y = conv_transpose(case.input, case.kernel, **case.oracle_kwargs())
        assert y.shape == case.expected_shape, case.id
        if case.in_channels == 0 and y.size:
            bias = 0 if case.bias is None else case.bias.reshape((1, -1) + (1,) * case.rank)
            np.testing.assert_array_equal(y, np.broadcast_to(bias, y.shape))
        for adapter in (NumpyScatter(), NumpyMatrix(), NumpyZeroInsertion()):
            assert adapter.supports(case) is None, (case.id, adapter.name)
            actual = adapter.run(case)
            assert actual.shape == y.shape and actual.dtype == np.float32, (case.id, adapter.name)
            np.testing.assert_allclose(actual, y, rtol=1e-6, err_msg=f"{case.id} {adapter.name}")


def test_tconv_runs_the_empty_cases_on_numpy(tconv, tmp_path) -> None:
    status, _, err = tconv("run", EMPTY, "--frameworks", "numpy", "--out", tmp_path, "--quiet", "--formats", "csv")
    assert status == 0, err
    frame = pd.read_csv(tmp_path / "report.csv", keep_default_na=False)
    assert set(frame["status"]) == {"pass"} and len(frame[frame["adapter"] == "oracle"]) == len(load_cases([EMPTY]))
