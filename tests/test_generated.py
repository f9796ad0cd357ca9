"""Generated arrays, shorthand, file-level defaults and sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from harness.casefile import load_cases
from harness.generate import generate, is_degenerate, splitmix64


def test_splitmix64_reference_values() -> None:
    # SplitMix64 with seed 0 (Vigna's reference implementation): the stream the generator promises
    # to reproduce on every platform and NumPy version.
    assert splitmix64(0, 0, 3).tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_generation_is_reproducible_and_depends_on_the_seed() -> None:
    a = generate((2, 3, 4), seed=5, distribution="normal")
    b = generate((2, 3, 4), seed=5, distribution="normal")
    c = generate((2, 3, 4), seed=6, distribution="normal")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("distribution", ["normal", "uniform", "integers"])
def test_distributions_have_sensible_moments(distribution: str) -> None:
    values = generate((20000,), seed=1, distribution=distribution)
    if distribution == "normal":
        assert abs(values.mean()) < 0.05 and abs(values.std() - 1) < 0.05
    elif distribution == "uniform":
        assert values.min() >= -1 and values.max() < 1 and abs(values.mean()) < 0.05
    else:
        assert set(np.unique(values)) == set(range(-4, 5))


def test_integers_respect_low_and_high() -> None:
    values = generate((500,), seed=3, distribution="integers", low=2, high=5)
    assert set(np.unique(values)) == {2, 3, 4}


def test_degenerate_draws_are_refused() -> None:
    assert is_degenerate(np.ones((2, 2)))
    symmetric = np.array([[[[1.0, 2.0], [2.0, 1.0]]]])
    assert is_degenerate(symmetric, spatial_axes=(2, 3))
    kernel = generate((1, 1, 1, 2), seed=0, distribution="integers", low=0, high=2, spatial_axes=(2, 3))
    assert kernel[0, 0, 0, 0] != kernel[0, 0, 0, 1]
    with pytest.raises(ValueError, match="widen the range"):
        generate((3,), seed=0, distribution="integers", low=1, high=2)


def test_generated_case_arrays(write_cases) -> None:
    path = write_cases("""\
cases:
  - id: gen
    input: {shape: [2, 3, 4, 5], seed: 11, distribution: uniform, low: -2, high: 2}
    kernel: {shape: [3, 2, 3, 3], seed: 12, distribution: integers}
    bias: {seed: 13}
""")
    (case,) = load_cases([path])
    assert case.input.shape == (2, 3, 4, 5) and case.kernel.shape == (3, 2, 3, 3) and case.bias.shape == (2,)
    assert case.input.min() >= -2 and case.input.max() < 2
    assert np.array_equal(case.kernel, np.round(case.kernel))
    assert not np.array_equal(case.kernel, np.flip(case.kernel, axis=(2, 3)))
    assert np.array_equal(case.input, generate((2, 3, 4, 5), seed=11, distribution="uniform", low=-2, high=2)
                          .astype(np.float32).astype(np.float64))


def test_shorthand_defaults_and_sweep(write_cases) -> None:
    path = write_cases("""\
defaults:
  dtype: float64
  distribution: integers
cases:
  - id: grid
    batch: 2
    in_channels: 4
    out_channels: 6
    groups: 2
    input_size: [3, 5]
    kernel_size: 3
    sweep:
      stride: [1, 2]
      padding: [0, same]
  - id: one
    in_channels: 2
    input_size: 4
    kernel_size: [2]
    dtype: float16
""")
    cases = load_cases([path])
    ids = [c.id for c in cases]
    assert ids == ["grid/stride=1,padding=0", "grid/stride=1,padding=same", "grid/stride=2,padding=0",
                   "grid/stride=2,padding=same", "one"]
    grid = cases[0]
    assert grid.input.shape == (2, 4, 3, 5) and grid.kernel.shape == (4, 3, 3, 3) and grid.out_channels == 6
    assert grid.dtype == "float64" and np.array_equal(grid.input, np.round(grid.input))
    assert cases[3].stride == (2, 2) and cases[3].padding == ("same", "same")
    one = cases[-1]
    assert one.rank == 1 and one.input.shape == (1, 2, 4) and one.kernel.shape == (2, 1, 2) and one.dtype == "float16"


def test_sweep_as_a_list_of_grids(write_cases) -> None:
    path = write_cases("""\
cases:
  - id: op
    input_size: 3
    kernel_size: 2
    sweep:
      - {stride: [1], output_padding: [0]}
      - {stride: [2, 3], output_padding: [1]}
""")
    assert [c.id for c in load_cases([path])] == [
        "op/stride=1,output_padding=0", "op/stride=2,output_padding=1", "op/stride=3,output_padding=1"]


def test_invalid_sweep_combination_names_its_generated_id(write_cases) -> None:
    from harness.casefile import CaseFileError

    path = write_cases("cases:\n  - id: op\n    input_size: 3\n    kernel_size: 2\n"
                       "    sweep: {stride: [1, 2], output_padding: [1]}\n")
    with pytest.raises(CaseFileError, match="case 'op/stride=1,output_padding=1'.*output_padding"):
        load_cases([path])
