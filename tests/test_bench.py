"""`tconv bench` measures for real: the oracle against PyTorch on the three workloads, each
adapter on them, the suite's rows per second and the fuzzer's examples per second, in one process."""

from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def test_bench_measures_every_part_and_writes_json(tconv, tmp_path, monkeypatch) -> None:
    # The three workloads by name at a tenth of their work or less: this checks what `tconv bench`
    # measures and writes; the figures on the full layers are the README's (`tconv bench`).
    from harness import bench_oracle

    small = {"dcgan-2d": {"batch": 2, "in_channels": 32, "input_size": (16, 16)},
             "audio-1d": {"batch": 2, "in_channels": 64, "input_size": (1024,)},
             "volume-3d": {"batch": 1, "in_channels": 32, "input_size": (8, 8, 8)}}
    monkeypatch.setattr(bench_oracle, "WORKLOADS",
                        tuple(dataclasses.replace(w, **small[w.name]) for w in bench_oracle.WORKLOADS))
    out = tmp_path / "bench.json"
    status, stdout, err = tconv("bench", "--frameworks", "torch", "--adapters", "torch.functional,torch.module",
                                "--repeats", "1", "--suite-seconds", "1",
                                "--fuzz-seconds", "1", "--cases", "cases/seeds.yaml", "--json", out)
    assert status == 0, err
    result = json.loads(out.read_text())
    assert [r["workload"] for r in result["oracle"]] == ["dcgan-2d", "audio-1d", "volume-3d"]
    for row in result["oracle"]:
        assert row["oracle_ms"] > 0 and row["torch_ms"] > 0
        assert row["ratio"] == pytest.approx(row["oracle_ms"] / row["torch_ms"], rel=1e-6)
    timed = {(r["workload"], r["adapter"]) for r in result["adapters"] if r["median_ms"]}
    assert ("dcgan-2d", "torch.functional") in timed and ("volume-3d", "torch.functional") in timed
    assert {r["adapter"] for r in result["adapters"]} == {"torch.functional", "torch.module"}  # --adapters
    assert {r["framework"] for r in result["suite"]} == {"torch"}
    assert all(r["rows"] > 0 and r["rows_per_s"] > 0 for r in result["suite"])
    assert all(r["examples"] > 0 for r in result["fuzz"])
    assert result["peak_memory_mib"]["adapters"] > 50
    assert "oracle vs PyTorch float64" in stdout and "dcgan-2d" in stdout


def test_bench_needs_torch_in_the_frameworks(tconv) -> None:
    status, _, err = tconv("bench", "--frameworks", "numpy")
    assert status == 2 and "compares the oracle with PyTorch" in err


def test_bench_adapters_glob_must_match(tconv) -> None:
    status, _, err = tconv("bench", "--adapters", "torch.nope*")
    assert status == 2 and "torch.nope*" in err
