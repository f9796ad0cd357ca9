"""Case files: every rejection rule of the contract, and the extensions (generated arrays,
shorthand, defaults, sweeps). A rejected file exits 2 with one line naming file, case and field."""

from __future__ import annotations

import re

import numpy as np
import pytest

from harness.casefile import CaseFileError, load_cases

GOOD = """\
cases:
  - id: ok
    input: [[[[1, 2], [3, 4]]]]
    kernel: [[[[1, 0], [2, -1]]]]
"""

# (name, YAML text, field the message must name, a fragment of the message)
REJECTED = [
    ("missing input", "cases:\n  - id: a\n    kernel: [[1, 2], [3, 4]]\n", "input", "missing"),
    ("missing kernel", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n", "kernel", "missing"),
    ("missing id", "cases:\n  - input: [[1, 2]]\n    kernel: [[1]]\n", "id", "missing"),
    ("no cases list", "case:\n  - id: a\n", "cases", ""),
    ("ragged input", "cases:\n  - id: a\n    input: [[1, 2], [3]]\n    kernel: [[1, 2], [3, 4]]\n", "input", "ragged"),
    ("non-numeric input", "cases:\n  - id: a\n    input: [[1, x], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n", "input", "non-numeric"),
    ("stride 0", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 0\n", "stride", "must be > 0 (got 0)"),
    ("dilation 0", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    dilation: [1, 0]\n", "dilation", "must be > 0 (got 0)"),
    ("groups not dividing C_in", """\
cases:
  - id: a
    input: {shape: [1, 3, 4, 4]}
    kernel: {shape: [3, 2, 3, 3]}
    groups: 2
""", "groups", "does not divide"),
    ("groups not dividing C_out", """\
cases:
  - id: a
    in_channels: 4
    out_channels: 3
    input_size: 4
    kernel_size: 3
    groups: 2
""", "groups", "does not divide"),
    ("kernel C_in mismatch", """\
cases:
  - id: a
    input: {shape: [1, 3, 4, 4]}
    kernel: {shape: [2, 2, 3, 3]}
""", "kernel", "C_in"),
    ("unknown padding word", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    padding: smae\n", "padding", "unknown padding word"),
    ("negative padding", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    padding: -1\n", "padding", ">= 0"),
    ("output_padding >= max(stride, dilation)", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 2\n    output_padding: 2\n", "output_padding", "max(stride, dilation)"),
    ("negative output_padding", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    output_padding: -1\n", "output_padding", "must be >= 0"),
    ("output size < 1", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    padding: 2\n", "padding", "output size"),
    ("duplicate id", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n", "id", "duplicate"),
    ("unknown key (typo)", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    strides: 2\n", "strides", "did you mean 'stride'"),
    ("rank mismatch", "cases:\n  - id: a\n    input: [[[1, 2, 3]]]\n    kernel: [[[[1, 2], [3, 4]]]]\n", "kernel", "ranks must match"),
    ("per-dim list of the wrong length", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: [1, 2, 3]\n", "stride", "spatial dims"),
    ("expected of the wrong rank", "cases:\n  - id: a\n    input: [[[[1, 2], [3, 4]]]]\n    kernel: [[[[1, 2], [3, 4]]]]\n    expected: [[[1, 2, 3]]]\n", "expected", "dims"),
    ("bias of the wrong length", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    bias: [1, 2]\n", "bias", "C_out"),
    ("unknown dtype", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    dtype: float8\n", "dtype", "float16"),
    ("output_shape with a crop padding", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 2\n    padding: 1\n    output_shape: [4, 4]\n", "output_shape", "goes with padding 'valid' or 'same'"),
    ("output_shape with a crop pair", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 2\n    padding: [[1, 0], [0, 0]]\n    output_shape: [4, 4]\n", "output_shape", "not [1, 0]"),
    ("output_shape with output_padding", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 2\n    padding: same\n    output_padding: 1\n    output_shape: [4, 4]\n", "output_shape", "output_padding"),
    ("output_shape the forward conv does not map back", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 2\n    padding: same\n    output_shape: [5, 4]\n", "output_shape", "maps it to 3, not the input size 2"),
    ("generated array without a shape", "cases:\n  - id: a\n    input: {seed: 1}\n    kernel: [[1, 2], [3, 4]]\n", "input", "shape"),
    ("unknown key in a generated array", "cases:\n  - id: a\n    input: {shape: [1, 1, 2, 2], sed: 1}\n    kernel: [[1, 2], [3, 4]]\n", "input.sed", "did you mean 'seed'"),
    ("unknown top-level key", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\ndefualts: {}\n", "defualts", "unknown key"),
    ("unknown key in defaults", "defaults:\n  strides: 2\ncases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n", "defaults.strides", "defaults"),
    ("unknown key in a sweep", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    sweep: {strides: [1, 2]}\n", "sweep.strides", "not a case key"),
    ("duplicate key in a mapping", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: 1\n    stride: 2\n", None, "duplicate key"),
    ("stride as text", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: '2'\n", "stride", "valid integer"),
    ("stride as a boolean", "cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    stride: true\n", "stride", "valid integer"),
    ("boolean where a number belongs", "cases:\n  - id: a\n    input: [[true, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n", "input", "non-numeric"),
]


@pytest.mark.parametrize("text, field, fragment", [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_rejected_with_status_2_and_one_line(write_cases, tconv, text: str, field: str | None, fragment: str) -> None:
    path = write_cases(text, "bad.yaml")
    status, out, err = tconv("run", path, "--frameworks", "numpy", "--out", path.parent / "out", "--quiet")
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert str(path) in lines[0]
    if field is not None:
        # The field, or a part of it (`dilation.1`: the second value of `dilation`).
        assert re.search(rf"field '{re.escape(field)}(\.[^']+)?'", lines[0]), lines[0]
    assert fragment in lines[0]
    assert not (path.parent / "out" / "report.csv").exists(), "a malformed file must never run"


def test_case_id_is_named(write_cases) -> None:
    path = write_cases("cases:\n  - id: first\n    input: [[1]]\n    kernel: [[1]]\n"
                       "  - id: second-one\n    input: [[1]]\n    kernel: [[1]]\n    stride: 0\n")
    with pytest.raises(CaseFileError) as info:
        load_cases([path])
    assert "case 'second-one'" in str(info.value) and "field 'stride'" in str(info.value)


def test_yaml_syntax_error_names_the_line(write_cases, tconv) -> None:
    path = write_cases("cases:\n  - id: a\n    input: [[1, 2], [3, 4]\n    kernel: [[1]]\n", "broken.yaml")
    status, _, err = tconv("run", path, "--frameworks", "numpy", "--out", path.parent / "out")
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert "line 4" in err and "YAML syntax error" in err and "broken.yaml" in err


def test_one_bad_file_stops_the_whole_run(write_cases, tconv) -> None:
    write_cases(GOOD, "good.yaml")
    path = write_cases("cases:\n  - id: a\n    input: [[1]]\n", "bad.yaml")
    status, _, err = tconv("run", path.parent, "--frameworks", "numpy", "--out", path.parent / "out")
    assert status == 2 and "bad.yaml" in err and "field 'kernel'" in err


def test_padding_words_are_case_insensitive(write_cases) -> None:
    path = write_cases("cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n"
                       "    stride: 2\n    padding: SAME_Lower\n")
    (case,) = load_cases([path])
    assert case.padding == ("same_lower", "same_lower")


def test_shorthand_2d_means_one_channel(write_cases) -> None:
    path = write_cases("cases:\n  - id: a\n    input: [[1, 2, 3], [4, 5, 6]]\n    kernel: [[1, 2], [3, 4]]\n"
                       "    bias: 0.5\n    expected: [[1, 4, 7, 6], [7, 23, 33, 24], [12, 31, 38, 24]]\n")
    (case,) = load_cases([path])
    assert case.input.shape == (1, 1, 2, 3) and case.kernel.shape == (1, 1, 2, 2)
    assert case.bias.tolist() == [0.5] and case.expected.shape == (1, 1, 3, 4)


def test_values_are_rounded_to_the_dtype(write_cases) -> None:
    path = write_cases("cases:\n  - id: a\n    input: [[0.1, 1.0009765625]]\n    kernel: [[1]]\n    dtype: float16\n")
    (case,) = load_cases([path])
    assert case.input.dtype == np.float64
    assert case.input.ravel().tolist() == [float(np.float16(0.1)), float(np.float16(1.0009765625))]
    assert not case.input.flags.writeable


def test_yaml_12_floats(write_cases) -> None:
    path = write_cases("cases:\n  - id: a\n    input: [[1e-3, 2E+2]]\n    kernel: [[1]]\n    dtype: float64\n")
    (case,) = load_cases([path])
    assert case.input.ravel().tolist() == [1e-3, 200.0]


def test_numeric_ids_are_text(write_cases) -> None:
    path = write_cases("cases:\n  - id: 7\n    input: [[1]]\n    kernel: [[1]]\n")
    (case,) = load_cases([path])
    assert case.id == "7"


@pytest.mark.parametrize(("values", "kinds"), [
    ([1, 2], "no"), ([1, ".nan"], "nan"), ([".inf", 1], "inf"), (["-.inf", 1], "-inf"),
    ([".nan", "-.inf", ".inf"], "nan, inf, -inf"), (["-.inf", "-.inf"], "-inf"),
])
def test_the_non_finite_values_of_the_input_and_the_kernel_are_case_parameters(write_cases, values, kinds) -> None:
    """What known entries match when only such data shows a discrepancy (`nonfinite_kernel: "*inf*"`)."""
    text = f"cases:\n  - id: a\n    input: [[{', '.join(map(str, values))}]]\n    kernel: [[1]]\n" \
           f"  - id: b\n    input: [[1]]\n    kernel: [[{', '.join(map(str, values))}]]\n"
    on_input, on_kernel = (case.describe() for case in load_cases([write_cases(text)]))
    assert (on_input["nonfinite_input"], on_input["nonfinite_kernel"]) == (kinds, "no")
    assert (on_kernel["nonfinite_input"], on_kernel["nonfinite_kernel"]) == ("no", kinds)
