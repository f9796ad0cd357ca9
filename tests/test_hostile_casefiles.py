"""Case files from anyone: hostile input is one clear `CaseFileError`, quickly, in bounded memory.

Each input here used to hang, exhaust memory or crash (RecursionError, OverflowError, TypeError,
MemoryError, a segfault in libyaml's composer) instead of exiting 2 with one `tconv:` line: alias
bombs, huge sweeps, huge files, deep nesting, unhashable keys, huge integers, and cases whose
shapes need terabytes or hours. The last part feeds random and hostile YAML to `parse_text`.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import builder, safe_yaml
from harness.casefile import CaseFileError, case_files, case_from_mapping, load_cases, parse_text
from harness.generate import CHUNK, _uniform40, generate, splitmix64
from harness.limits import (
    DEFAULT_LIMITS,
    MAX_CASES_PER_FILE,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_VALUES,
    Limits,
    estimate,
    physical_memory,
)
from harness.schema import CASE_KEYS
from tests.conftest import REPO

KERNEL = "    kernel: [[1, 2], [3, 4]]\n"
FAST = 2.0  # seconds: every refusal here is meant to take milliseconds


def refused(text: str, *fragments: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """The one-line message `parse_text` refuses `text` with, checked to come fast and say `fragments`."""
    start = time.perf_counter()
    with pytest.raises(CaseFileError) as info:
        parse_text(text, "hostile.yaml", limits=limits)
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert elapsed < FAST, f"{elapsed:.1f} s: {message}"
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def case(body: str, case_id: str = "c") -> str:
    return f"cases:\n  - id: {case_id}\n{body}"


# --- 1. alias bombs -----------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 10) -> str:
    """Billion laughs inside `input`: `width ** levels` numbers from a few hundred bytes."""
    value = "&a0 [" + ", ".join(["1"] * width) + "]"
    for level in range(1, levels + 1):
        value = f"&a{level} [{value}, " + ", ".join([f"*a{level - 1}"] * (width - 1)) + "]"
    return case(KERNEL + f"    input: {value}\n")


def test_alias_bomb_is_refused_before_it_expands() -> None:
    message = refused(alias_bomb(), "aliases", f"{MAX_VALUES:,} values", "line 4")
    assert "hostile.yaml: line 4:" in message


def test_alias_bomb_in_defaults() -> None:
    parts = ["&t0 [x, x, x, x, x, x, x, x, x, x]"]
    parts += [f"&t{level} [" + ", ".join([f"*t{level - 1}"] * 10) + "]" for level in range(1, 10)]
    text = "defaults:\n  tags: [" + ", ".join(parts) + "]\ncases:\n  - id: c\n    input_size: 2\n    kernel_size: 2\n"
    refused(text, "aliases", "values", "line 2")


def test_alias_loops_and_alias_depth_are_refused() -> None:
    refused(case(KERNEL + "    input: &a [1, *a]\n"), "*a", "loop")
    # Each level is four lists around an alias of the one before: 20 levels nest 80 deep.
    levels = ["&d0 [1]"] + [f"&d{level} [[[[*d{level - 1}]]]]" for level in range(1, 20)]
    refused(case(KERNEL + f"    input: [{', '.join(levels)}]\n"), "aliases (*name) nest this value deeper than 64")


def test_a_case_may_still_use_an_alias() -> None:
    text = "defaults: {}\ncases:\n  - id: a\n    input: &x [[1, 2], [3, 4]]\n    kernel: *x\n"
    (loaded,) = parse_text(text, "ok.yaml")
    assert loaded.kernel.shape == (1, 1, 2, 2)


def test_too_many_values_through_defaults_and_sweeps() -> None:
    # 3,000 tags in a default, copied into each of 5,000 swept cases: 1.5 x 10^7 values to validate.
    tags = "[" + ", ".join(["x"] * 3000) + "]"
    text = (f"defaults:\n  tags: {tags}\ncases:\n  - id: c\n    input_size: 2\n    kernel_size: 2\n"
            f"    sweep: {{seed: {list(range(5000))}}}\n")
    refused(text, f"more than {MAX_VALUES:,} values", "sweeps")


def test_too_many_values_written_out(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_NODES == 500_000
    monkeypatch.setattr(safe_yaml, "MAX_NODES", 1000)  # the real cap takes a few seconds to reach
    refused(case(KERNEL + "    input: [[" + "1, " * 1000 + "1]]\n"), "holds more than 1,000 values", "line 4")


# --- 2. sweeps ------------------------------------------------------------------------------------


def test_a_million_case_sweep_is_counted_not_expanded() -> None:
    sweep = f"    sweep: {{seed: {list(range(1000))}, description: {[str(i) for i in range(1000)]}}}\n"
    refused(case(KERNEL + "    input: [[1, 2], [3, 4]]\n" + sweep), "field 'sweep'", "1,000,000 cases",
            f"{MAX_CASES_PER_FILE:,} cases per file")


def test_too_many_cases_in_one_file() -> None:
    sweep = f"    sweep: {{seed: {list(range(6000))}}}\n"
    text = case(KERNEL + "    input: [[1, 2], [3, 4]]\n" + sweep) + "  - id: d\n" + KERNEL + "    input: [[1]]\n" + sweep
    refused(text, "case 'd'", "6,000 cases (with the 6,000 before it)", "per file")


@pytest.mark.parametrize("sweep", ["[]", "{}", "[{stride: [1, 2]}, {}]", "null"])
def test_an_empty_sweep_is_an_error_not_a_vanished_case(sweep: str) -> None:
    text = case(KERNEL + "    input: [[1, 2], [3, 4]]\n" + f"    sweep: {sweep}\n")
    message = refused(text, "field 'sweep'")
    assert "at least one key with values" in message or "must map case keys" in message


# --- 3. huge files and the C loader ---------------------------------------------------------------


def test_a_50_mb_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(case(KERNEL + "    input: [[1]]\n    description: " + "x" * 50_000_000 + "\n"))
    start = time.perf_counter()
    with pytest.raises(CaseFileError, match=r"big\.yaml: is 47\.7 MiB, over the 8\.0 MiB limit for a case file"):
        load_cases([path])
    assert time.perf_counter() - start < FAST


def test_a_text_over_the_limit_is_refused_before_parsing() -> None:
    refused("cases: [" + "1, " * (MAX_FILE_BYTES // 3 + 10) + "]\n", "MiB, over the 8.0 MiB limit")


def test_the_c_loader_is_used_and_reads_as_the_python_one_does() -> None:
    assert safe_yaml.CLoader is not None and safe_yaml.DEFAULT_LOADER is safe_yaml.CLoader

    class Reference(yaml.SafeLoader):
        """The loader before this change: PyYAML's own composer and constructor, 1e-3 a float."""

    Reference.add_implicit_resolver("tag:yaml.org,2002:float", safe_yaml._FLOAT_1_2, list("-+0123456789."))
    files = [path for path, _ in case_files([REPO / "cases"])] + [REPO / "cases" / "known_discrepancies.yaml"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        expected = yaml.load(text, Loader=Reference)
        assert safe_yaml.load(text, loader=safe_yaml.CLoader) == expected, path
        assert safe_yaml.load(text, loader=safe_yaml.PyLoader) == expected, path


SNIPPETS = [
    "a: 1e-3\nb: [1, 2.5, -0.0, 1_000, 0x1F, 0o7, 017, 089, 1:30, .5, -.inf, 1e5, 1.5E+3, +1, 00, 1., 2001-01-01]\n",
    "a: [yes, no, on, off, ~, null, '1', \"2\", !!str 3, !!float 4, !!int '5']\n",
    "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [{k: 1}]\n",
]


@pytest.mark.parametrize("text", SNIPPETS)
def test_number_fast_path_gives_pyyaml_values(text: str) -> None:
    class Reference(yaml.SafeLoader):
        pass

    Reference.add_implicit_resolver("tag:yaml.org,2002:float", safe_yaml._FLOAT_1_2, list("-+0123456789."))
    expected = yaml.load(text, Loader=Reference)
    for loader in (safe_yaml.CLoader, safe_yaml.PyLoader):
        got = safe_yaml.load(text, loader=loader)
        assert repr(got) == repr(expected), loader


@given(st.from_regex(r"[-+]?[0-9_.eE:xob]{1,10}", fullmatch=True))
@settings(max_examples=150, deadline=None)
def test_number_like_scalars_resolve_as_pyyaml_does(word: str) -> None:
    class Reference(yaml.SafeLoader):
        pass

    Reference.add_implicit_resolver("tag:yaml.org,2002:float", safe_yaml._FLOAT_1_2, list("-+0123456789."))
    text = f"a: [{word}]\nb: {word}\n"
    try:
        expected = repr(yaml.load(text, Loader=Reference))
    except (yaml.YAMLError, ValueError):
        expected = "error"
    for loader in (safe_yaml.CLoader, safe_yaml.PyLoader):
        try:
            got = repr(safe_yaml.load(text, loader=loader))
        except safe_yaml.YamlProblem:
            got = "error"
        assert got == expected, (word, loader)


@pytest.mark.parametrize("loader", ["CLoader", "PyLoader"])
def test_both_loaders_keep_the_case_file_rules(loader: str) -> None:
    reader = getattr(safe_yaml, loader)
    with pytest.raises(safe_yaml.YamlProblem, match="duplicate key 'a'"):
        safe_yaml.load("a: 1\na: 2\n", loader=reader)
    with pytest.raises(safe_yaml.YamlProblem, match="no !!python"):
        safe_yaml.load("a: !!python/object/apply:os.system [echo hacked]\n", loader=reader)
    with pytest.raises(safe_yaml.YamlProblem, match="merge keys"):
        safe_yaml.load("a: &a {x: 1}\nb: {<<: *a}\n", loader=reader)
    assert safe_yaml.load("a: 1e-3\n", loader=reader) == {"a": 0.001}


# --- 4. deep nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 10_000])
@pytest.mark.parametrize("style", ["flow sequence", "flow mapping", "block sequence", "block mapping"])
def test_deep_nesting_is_refused_without_recursing(style: str, depth: int) -> None:
    if style == "flow sequence":
        value = " " + "[" * depth + "1" + "]" * depth + "\n"
    elif style == "flow mapping":
        value = " " + "{a: " * depth + "1" + "}" * depth + "\n"
    elif style == "block sequence":
        value = "\n      " + "- " * depth + "1\n"
    else:
        depth = min(depth, 1000)  # indentation grows with depth: 10,000 levels would be a 50 MB file
        value = "\n" + "".join(" " * (6 + i) + "k:\n" for i in range(depth)) + " " * (6 + depth) + "1\n"
    refused(case(KERNEL + "    input:" + value), f"nests deeper than {MAX_DEPTH} levels")


def test_nesting_just_under_the_cap_is_read() -> None:
    data = safe_yaml.load("a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n")
    depth = 0
    value = data["a"]
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert depth == MAX_DEPTH - 1


# --- 5. keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["? [a, b]\n    : 1\n", "? {a: 1}\n    : 1\n", "? !!set {a}\n    : 1\n"])
def test_a_key_that_is_not_a_string(key: str) -> None:
    refused(case(KERNEL + "    " + key), "keys must be strings")


# --- 6. huge integers --------------------------------------------------------------------------------

HUGE = 10**400


@pytest.mark.parametrize("body, field", [
    (f"    input: [[{HUGE}, 2], [3, 4]]\n" + KERNEL, "input"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    bias: {HUGE}\n", "bias"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    bias: [{-HUGE}]\n", "bias"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    expected: [[{HUGE}]]\n", "expected"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    stride: {HUGE}\n", "stride"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    dilation: [1, {HUGE}]\n", "dilation"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    padding: {HUGE}\n", "padding"),
    (f"    input: [[1, 2], [3, 4]]\n{KERNEL}    output_shape: [{HUGE}, 2]\n", "output_shape"),
    (f"    batch: {HUGE}\n    input_size: 3\n    kernel_size: 2\n", "batch"),
    (f"    in_channels: {HUGE}\n    input_size: 3\n    kernel_size: 2\n", "in_channels"),
    (f"    input_size: {HUGE}\n    kernel_size: 2\n", "input_size"),
    (f"    input_size: 3\n    kernel_size: [2, {HUGE}]\n", "kernel_size"),
    (f"    input_size: 3\n    kernel_size: 2\n    groups: {HUGE}\n", "groups"),
    (f"    input_size: 3\n    kernel_size: 2\n    seed: {HUGE}\n", "seed"),
    (f"    input: {{shape: [1, 1, {HUGE}, 2]}}\n    kernel_size: 2\n", "input.shape"),
    (f"    input: {{shape: [1, 1, 3, 3], distribution: uniform, low: {-HUGE}}}\n    kernel_size: 2\n", "input.low"),
])
def test_huge_integers_name_their_field(body: str, field: str) -> None:
    message = refused(case(body), f"field '{field}")
    assert "about 10^400" in message or "beyond float64" in message, message
    assert "0" * 50 not in message, "a 400-digit number is not echoed"


def test_an_integer_beyond_pythons_digit_limit() -> None:
    refused(case(KERNEL + "    input: [[" + "9" * 5000 + "]]\n"), "more than 4,300 digits")


@pytest.mark.parametrize("spec, field", [
    ("distribution: integers, low: -.inf", "input.low"),
    ("distribution: integers, high: 1e300", "input.high"),
    ("distribution: integers, high: .nan", "input.high"),
    ("distribution: uniform, low: -1e308, high: 1e308", "input.high"),
    ("distribution: integers, low: 0.2, high: 0.7", "input.high"),
    ("scale: .inf", "input.scale"),
])
def test_generated_ranges_that_cannot_be_drawn(spec: str, field: str) -> None:
    refused(case(f"    input: {{shape: [1, 1, 3, 3], {spec}}}\n    kernel_size: 2\n"), f"field '{field}'")


def test_drawing_in_chunks_gives_the_same_numbers() -> None:
    size = CHUNK * 2 + 7
    normal = generate((size,), seed=9)
    words = splitmix64(9, 0, size * 12).reshape(size, 12)
    assert np.array_equal(normal, _uniform40(words).sum(axis=1) - 6.0)
    uniform = generate((size,), seed=9, distribution="uniform", low=-2, high=3)
    assert np.array_equal(uniform, -2 + 5 * _uniform40(splitmix64(9, 0, size)))


# --- 7. cases too large to run ---------------------------------------------------------------------


@pytest.fixture
def nothing_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the builder draws any array: a case over the limits is refused from its shapes."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an array was drawn before the limits were checked")

    monkeypatch.setattr(builder, "generate", refuse)


@pytest.mark.parametrize("body, fragments", [
    ("    input: {shape: [1000, 1000, 3000, 4000]}\n    kernel: {shape: [1000, 1, 2, 2]}\n",
     ["needs about", "TiB of memory", "input 1000x1000x3000x4000", "--max-memory"]),
    ("    input_size: 3\n    kernel_size: 2\n    stride: 1000000000\n", ["EiB of memory", "output 1x1x2000000002x"]),
    ("    input_size: 3\n    kernel_size: 2\n    dilation: 1000000000\n", ["EiB of memory"]),
    ("    input_size: 3\n    kernel_size: 2\n    stride: 2000000000\n    padding: 1999999999\n", ["of memory"]),
    ("    batch: 100\n    out_channels: 100\n    input_size: [100000, 10000]\n    kernel_size: 1\n",
     ["TiB of memory", "output 100x100x100000x10000"]),
    ("    rank: 3\n    kernel_size: 200\n    input_size: 1\n",
     ["multiply-adds", "8,000,000 kernel taps", "--max-work", "raise --max-work"]),
    ("    rank: 3\n    kernel_size: 200\n    input_size: 2\n    check: [forward, grad_input]\n", ["--max-work"]),
])
def test_cases_too_large_to_run_are_refused_before_drawing(nothing_drawn: None, body: str,
                                                           fragments: list[str]) -> None:
    message = refused(case(body), *fragments)
    assert "make the case smaller" in message


def test_limits_are_a_keyword_of_every_entry_point() -> None:
    text = case("    input_size: 8\n    kernel_size: 3\n")
    assert parse_text(text, "ok.yaml")
    refused(text, "--max-memory 1000 bytes", limits=Limits(max_memory=1000, max_work=10**12))
    refused(text, "over --max-work 10", limits=Limits(max_memory=10**9, max_work=10))
    with pytest.raises(CaseFileError, match="--max-work"):
        case_from_mapping({"id": "a", "input_size": 8, "kernel_size": 3}, limits=Limits(max_memory=10**9, max_work=10))
    with pytest.raises(ValueError):
        Limits(max_memory=0, max_work=1)


def test_the_cases_before_count_against_max_memory(tmp_path: Path) -> None:
    body = "    in_channels: 64\n    out_channels: 64\n    input_size: 64\n    kernel_size: 1\n"
    one = parse_text(case(body), "one.yaml")[0]
    single = estimate(batch=1, in_channels=64, out_channels=64, groups=1, input_size=(64, 64), kernel_size=(1, 1),
                      output_size=(64, 64), dtype="float32").memory_bytes
    limits = Limits(max_memory=single + one.input.nbytes // 2, max_work=10**12)
    (tmp_path / "a.yaml").write_text(case(body, "first"))
    (tmp_path / "b.yaml").write_text(case(body, "second"))
    with pytest.raises(CaseFileError, match="case 'second'.*held by the cases before it"):
        load_cases([tmp_path], limits=limits)


def test_the_built_in_cases_fit_the_defaults_with_a_wide_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    check = builder.limit_problem

    def spy(cost, limits, *, held_before=0):  # type: ignore[no-untyped-def]
        seen.append(cost)
        return check(cost, limits, held_before=held_before)

    monkeypatch.setattr(builder, "limit_problem", spy)
    cases = load_cases([REPO / "cases"])
    assert len(seen) == len(cases) > 100
    assert max(e.memory_bytes for e in seen) * 1000 < DEFAULT_LIMITS.max_memory
    assert max(e.work for e in seen) * 1000 < DEFAULT_LIMITS.max_work


def test_default_memory_limit_is_a_quarter_of_ram() -> None:
    assert DEFAULT_LIMITS.max_memory == physical_memory() // 4 > 0
    assert DEFAULT_LIMITS.max_work == 2 * 10**10


# --- 8. random and hostile YAML ---------------------------------------------------------------------

FUZZ_LIMITS = Limits(max_memory=64 * 2**20, max_work=10**9)  # keeps every accepted case quick to build
HOSTILE_VALUES = [
    "!!binary aGVsbG8=", "!!python/object/apply:os.system [echo hacked]", "!!python/name:os.system",
    "!!set {a, b}", "!!timestamp 2001-13-01", "!!omap [{a: 1}]", "!!int 0x", "!!float abc", "&a [*a]",
    ".nan", "-.inf", "1e400", str(HUGE), str(-HUGE), "9" * 4400, "0b" + "1" * 5000, "2147483648",
    "1000000000", "[" * 500 + "]" * 500, "{" * 300 + "}" * 300, "- - - - 1", "~", "''", "[]", "{}",
    "[[1, 2], [3]]", "[[true, 1]]", "{shape: [1000000, 1000000]}", "{shape: [1, 1, 3, 3], seed: -1}",
    "{shape: [0, 1, 3, 3]}", "{shape: [1, 1, 0, 3]}", "[1, [2]]", "? [a]\n      : 1", "*undefined",
    "'" + "x" * 3000 + "'", "same", "SAME_LOWER", "[[1, 0], [0, 1]]", "[forward, grad_bias]",
]
KEYS = sorted(CASE_KEYS) + ["sweep", "strides", "0", "?"]
HUGE_INTS = st.sampled_from([0, 1, 2, 3, 7, 2**31 - 1, 2**31, 10**9, 10**12, HUGE, -1, -(2**63)])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_INTS, st.floats(), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5), max_leaves=30)


def survives(text: str, limits: Limits = FUZZ_LIMITS) -> None:
    """`parse_text` returns cases or raises `CaseFileError`, fast: never another exception."""
    start = time.perf_counter()
    try:
        cases = parse_text(text, "fuzz.yaml", limits=limits)
    except CaseFileError as error:
        assert str(error).strip(), "an empty message"
        assert "Traceback" not in str(error)
    else:
        assert isinstance(cases, list)
    assert time.perf_counter() - start < 5.0, text[:300]


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    survives(text)
    survives("cases:\n  - id: a\n    " + text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_decoded_leniently(data: bytes) -> None:
    survives(data.decode("utf-8", errors="replace"))
    survives(data.decode("latin-1"))


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8), VALUES)
def test_random_structures_of_wrong_types(entry: dict, defaults: object) -> None:
    survives(yaml.safe_dump({"cases": [{"id": "a", **entry}]}))
    survives(yaml.safe_dump({"defaults": defaults, "cases": [entry, defaults]}))


@FUZZ
@given(st.dictionaries(st.sampled_from(["stride", "dilation", "padding", "output_padding", "groups", "batch",
                                        "in_channels", "out_channels", "input_size", "kernel_size", "rank",
                                        "output_shape", "seed"]),
                       st.one_of(HUGE_INTS, st.integers(0, 40), st.lists(st.integers(0, 40) | HUGE_INTS,
                                                                          min_size=1, max_size=3)), max_size=8),
       st.sampled_from(["float16", "bfloat16", "float32", "float64"]),
       st.sampled_from([["forward"], ["forward", "grad_input", "grad_weight"]]))
def test_random_shapes_and_steps(fields: dict, dtype: str, check: list[str]) -> None:
    entry = {"id": "a", "input_size": 3, "kernel_size": 2, **fields, "dtype": dtype, "check": check}
    survives(yaml.safe_dump({"cases": [entry]}))


def test_hostile_values_in_every_field() -> None:
    """Every hostile value in every field, in a case and in `defaults`: all of them, not a sample
    (a few thousand parses take a fraction of a second)."""
    for key in KEYS:
        for value in HOSTILE_VALUES:
            survives(f"defaults:\n  {key}: {value}\ncases:\n  - id: a\n    input_size: 3\n    kernel_size: 2\n")
            survives(f"cases:\n  - id: a\n    input: [[1, 2], [3, 4]]\n    kernel: [[1, 2], [3, 4]]\n    {key}: {value}\n")


@pytest.mark.parametrize("levels", range(1, 13))
def test_alias_bombs_of_every_depth(levels: int) -> None:
    survives(alias_bomb(levels=levels, width=3 + levels % 5))


# --- the command line ------------------------------------------------------------------------------

CLI_FILES = {
    "bomb.yaml": alias_bomb(),
    "deep.yaml": case(KERNEL + "    input: " + "[" * 100_000 + "1" + "]" * 100_000 + "\n"),
    "sweep.yaml": case(KERNEL + "    input: [[1]]\n" + f"    sweep: {{seed: {list(range(1000))}, "
                       f"description: {[str(i) for i in range(1000)]}}}\n"),
    "key.yaml": case(KERNEL + "    ? [a, b]\n    : 1\n"),
    "huge.yaml": case(f"    input: [[{HUGE}]]\n    kernel: [[1]]\n"),
    "work.yaml": case("    rank: 3\n    kernel_size: 200\n    input_size: 1\n"),
}


@pytest.mark.parametrize("name", sorted(CLI_FILES))
def test_tconv_run_exits_2_with_one_line(tmp_path: Path, name: str) -> None:
    """`python -m harness run` (a real process: a segfault or a hang would show) on a hostile file."""
    path = tmp_path / name
    path.write_text(CLI_FILES[name], encoding="utf-8")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--frameworks", "numpy",
                           "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tconv: ") and str(path) in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "report.csv").exists()
    assert time.perf_counter() - start < 60
    assert re.search(r"(field|line|case) ", lines[0]) or "values" in lines[0], lines[0]


def test_the_limits_module_formats_what_it_refuses() -> None:
    cost = estimate(batch=1, in_channels=1, out_channels=1, groups=1, input_size=(3, 3), kernel_size=(2, 2),
                    output_size=(4, 4), dtype="float32")
    assert cost.memory_bytes < 2**12 and cost.work < 10**5 and math.isfinite(float(cost.work))


def test_max_memory_and_max_work_options_refuse_cases_at_load_time(tconv, tmp_path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("cases:\n  - id: big\n    input: {shape: [2, 8, 64, 64], seed: 1}\n"
                    "    kernel: {shape: [8, 8, 4, 4], seed: 2}\n    stride: 2\n", encoding="utf-8")
    out = tmp_path / "out"
    status, _, err = tconv("run", path, "--frameworks", "numpy", "--out", out, "--max-memory", "1MiB", "--quiet")
    assert status == 2 and "over --max-memory 1.0 MiB" in err and len(err.strip().splitlines()) == 1
    status, _, err = tconv("run", path, "--frameworks", "numpy", "--out", out, "--max-work", "1e6", "--quiet")
    assert status == 2 and "multiply-adds" in err and "--max-work" in err
    assert not (out / "report.csv").exists()
    assert tconv("run", path, "--frameworks", "numpy", "--out", out, "--quiet")[0] == 0  # the defaults take it
    for option, value in (("--max-memory", "lots"), ("--max-memory", "-1GiB"), ("--max-work", "0")):
        status, _, err = tconv("run", path, option, value)
        assert status == 2 and option in err
