"""The support table (`harness.support`): each cell's verdict from hand-made rows, the features read
from the report's parameter columns, the renderers, and the committed `docs/support-matrix.md`
being exactly what the generator makes of the committed baseline (so it cannot go stale)."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.report import COLUMNS, read_report
from harness.support import GENERATE_COMMAND, Cell, main, support_table, to_html, to_markdown
from tests.conftest import REPO

BASELINE = REPO / "reports" / "baseline" / "report.csv"
DOCUMENT = REPO / "docs" / "support-matrix.md"


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Report rows: a plain float32 2-D case (no options) unless a row says otherwise."""
    base = {c: "" for c in COLUMNS}
    base.update(case_file="f.yaml", adapter="a.one", framework="fw", framework_version="1", status="pass",
                dtype="float32", rank=2, input_shape="1x2x4x4", kernel_shape="2x3x3x3", stride="1", padding="0",
                output_padding="0", dilation="1", groups=1, bias="no", output_shape="", check="forward")
    return pd.DataFrame([{**base, "case_id": f"c{i}", **row} for i, row in enumerate(rows)])


def test_the_committed_support_matrix_is_what_the_baseline_gives() -> None:
    frame, environment, _ = read_report(BASELINE)
    assert DOCUMENT.read_text(encoding="utf-8") == to_markdown(frame, environment), (
        f"docs/support-matrix.md is stale: regenerate it with `{GENERATE_COMMAND}`")


def test_the_committed_matrix_answers_the_porting_questions() -> None:
    frame, _, _ = read_report(BASELINE)
    table = support_table(frame)
    assert "oracle" not in table.index and len(table) >= 10
    for column in ("float16", "bfloat16", "float64", "1-D", "3-D", "groups > 1", "depthwise", "dilation > 1",
                   "padding int", "padding pairs", "valid", "same", "same_upper", "same_lower", "output_padding",
                   "output_shape", "bias"):
        assert column in table.columns
    assert table.loc["tensorflow.conv_transpose", "groups > 1"] == "unsupported"  # tf.nn has no groups
    # PyTorch runs groups; on CPUs without AVX-512 some float16 rows take a known native-kernel issue
    torch_groups = table.loc["torch.functional", "groups > 1"]
    assert torch_groups == "pass" or torch_groups.startswith("known issue "), torch_groups
    assert table.loc["onnxruntime.cpu", "bfloat16"] == "unsupported"
    assert table.loc["onnx.reference", "groups > 1"].startswith("known issue ")


@pytest.mark.parametrize(("statuses", "label", "css"), [
    (["pass", "pass", "xpass"], "pass", "pass"),
    (["unsupported", "unsupported"], "unsupported", "unsupported"),
    (["pass", "unsupported", "pass"], "unsupported 1/3", "unsupported"),
    (["pass", "xfail", "pass", "pass"], "known issue 1/4", "xfail"),
    (["pass", "xfail", "unsupported"], "known issue 1/3", "xfail"),
    (["pass", "fail", "pass"], "fails 1/3", "fail"),
    (["xfail", "error", "fail", "unsupported"], "fails 2/4", "fail"),
    (["fail"], "fails 1/1", "fail"),
    (["pass", "weird"], "fails 1/2", "fail"),  # a status outside the contract is never shown as fine
    ([], "-", "none"),
])
def test_a_cell_is_the_worst_status_with_its_count(statuses: list[str], label: str, css: str) -> None:
    cell = Cell()
    for status in statuses:
        cell.counts[status] += 1
    assert (cell.label, cell.css) == (label, css)


def test_a_fail_makes_every_column_of_its_case_not_pass() -> None:
    frame = _frame([{}, {"dtype": "float16", "padding": "same", "bias": "yes"},
                    {"dtype": "float16", "status": "fail", "groups": 2}, {"adapter": "b.two"}])
    table = support_table(frame)
    assert table.loc["a.one", "any case"] == "fails 1/3"
    assert table.loc["a.one", "float16"] == "fails 1/2" and table.loc["a.one", "groups > 1"] == "fails 1/1"
    assert table.loc["a.one", "float32"] == "pass" and table.loc["a.one", "same"] == "pass"
    assert table.loc["b.two", "any case"] == "pass" and table.loc["b.two", "float16"] == "-"
    assert "bfloat16" not in table.columns, "a feature no row uses gets no column"


def test_features_are_read_from_the_parameter_columns() -> None:
    frame = _frame([
        {"padding": "1"}, {"padding": "[0, 2]"}, {"padding": "[[1, 0], [0, 1]]"}, {"padding": "0"},
        {"padding": "[0, 0]"},
        {"padding": "VALID"}, {"padding": "same_lower"}, {"padding": "same_upper"},
        {"dilation": "[1, 3]"}, {"stride": "[1, 2]"}, {"output_padding": "[0, 1]"}, {"output_shape": "[9, 9]"},
        {"groups": 2, "input_shape": "1x4x3x3"}, {"groups": 2, "input_shape": "1x2x3x3"},  # grouped; depthwise
        {"rank": 1, "input_shape": "1x2x5"}, {"rank": 3, "input_shape": "1x2x3x3x3"}, {"dtype": "bfloat16"},
    ])
    frame["status"] = ["fail" if i % 2 else "unsupported" for i in range(len(frame))]
    cells = support_table(frame).loc["a.one"]
    expected = {"padding int": "fails 1/2", "padding pairs": "unsupported", "valid": "fails 1/1",
                "same_lower": "unsupported", "same_upper": "fails 1/1", "dilation > 1": "unsupported",
                "stride > 1": "fails 1/1", "output_padding": "unsupported", "output_shape": "fails 1/1",
                "groups > 1": "fails 1/2", "depthwise": "fails 1/1", "1-D": "unsupported", "3-D": "fails 1/1",
                "bfloat16": "unsupported", "2-D": "fails 7/15"}
    assert {k: cells[k] for k in expected} == expected
    assert "same" not in cells.index and "bias" not in cells.index and "empty" not in cells.index


def test_empty_tensors_count_only_under_any_case_and_empty() -> None:
    frame = _frame([{}, {"input_shape": "0x2x4x4", "status": "xfail"}, {"kernel_shape": "2x0x3x3", "status": "xfail"}])
    table = support_table(frame)
    assert table.loc["a.one", "any case"] == "known issue 2/3" and table.loc["a.one", "empty"] == "known issue 2/2"
    assert table.loc["a.one", "float32"] == "pass" and table.loc["a.one", "2-D"] == "pass"


def test_oracle_rows_are_left_out_and_gradient_rows_get_their_own_columns() -> None:
    frame = _frame([{}, {"adapter": "oracle", "framework": "numpy", "status": "fail"},
                    {"check": "grad_input", "status": "fail"}, {"check": "grad_weight"}])
    table = support_table(frame)
    assert list(table.index) == ["a.one"]
    assert table.loc["a.one", "any case"] == "pass", "the forward columns count forward rows only"
    assert table.loc["a.one", "grad_input"] == "fails 1/1" and table.loc["a.one", "grad_weight"] == "pass"
    without_check = _frame([{}]).drop(columns="check")  # reports from before gradient checks
    assert support_table(without_check).loc["a.one", "any case"] == "pass"


def test_the_renderers_escape_and_explain() -> None:
    evil = "<b>x</b>|y"
    frame = _frame([{"adapter": evil, "status": "xfail", "known_issue": evil},
                    {"adapter": evil, "status": "unsupported", "message": "no groups: [Error] 10 : long"}])
    fragment = to_html(frame)
    assert "<b>x</b>" not in fragment and "&lt;b&gt;x&lt;/b&gt;|y" in fragment
    assert 'title="&lt;b&gt;x&lt;/b&gt;|y, any case: 2 rows: 1 unsupported, 1 xfail"' in fragment
    document = to_markdown(frame, {"version_torch": "2.13.0", "cpu": "Xeon"})
    assert "| \\<b>x\\</b>\\|y | 1 |" in document, "table cells escape pipes and markup"
    assert "torch 2.13.0" in document and "Xeon" in document and GENERATE_COMMAND in document
    assert "- unsupported, 1 row: no groups\n" in document, "the framework's appended error text is cut"
    assert "- xfail, 1 row: \\<b>x\\</b>\\|y" in document
    assert to_markdown(_frame([{"status": "xfail", "known_issue": "(in-1)*stride ... in*stride, B[0..C_out/g)"}])) \
        .count("(in-1)\\*stride ... in\\*stride, B\\[0..C_out/g)") == 1, "no stray emphasis or links"


def test_the_generator_command(tmp_path, capsys) -> None:
    assert main([]) == 2 and "usage" in capsys.readouterr().err
    path = tmp_path / "r.csv"
    _frame([{}]).to_csv(path, index=False)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Support matrix") and "| a.one | 1 | pass |" in out and "Every row passes." in out
