"""`tconv bench`: how fast the oracle, the adapters, the suite and the fuzzer are on this machine.

Four measurements, each in this one process so that ratios hold on a shared, noisy machine:
- the oracle against PyTorch's float64 kernel on three workloads (a DCGAN layer, a long 1-D
  signal, a 3-D volume), same thread count (`harness.bench_oracle`);
- the median time of every installed adapter on the same three workloads (float32), after a
  warm-up call (JAX compiles, oneDNN picks kernels);
- rows per second of the built-in suite per framework (the runner in-process, each framework's
  adapters over the cases until the case list or the time budget ends);
- fuzz examples per second per framework (`harness.fuzz`, forward, float32, for a time budget);
and the process's peak memory after each part. `--json FILE` writes the same figures.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.base import Adapter
from harness.bench_oracle import median_times_ms
from harness.case import Case
from harness.limits import DEFAULT_LIMITS, Limits

# The 1-D workload is 2.7e10 multiply-adds, over a run's default --max-work: the bench means it.
BENCH_LIMITS = Limits(max_memory=DEFAULT_LIMITS.max_memory, max_work=10**12)


@dataclass
class BenchResult:
    """Everything `tconv bench` measured (what `--json` writes)."""

    machine: dict[str, str] = field(default_factory=dict)
    oracle: list[dict[str, object]] = field(default_factory=list)
    adapters: list[dict[str, object]] = field(default_factory=list)
    suite: list[dict[str, object]] = field(default_factory=list)
    fuzz: list[dict[str, object]] = field(default_factory=list)
    peak_memory_mib: dict[str, float] = field(default_factory=dict)


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workload_cases() -> dict[str, Case]:
    """The oracle benchmark's workloads (`harness.bench_oracle.WORKLOADS`) as float32 cases."""
    from harness.bench_oracle import WORKLOADS
    from harness.casefile import case_from_mapping

    cases = {}
    for w in WORKLOADS:
        rank = len(w.input_size)
        mapping = {"id": w.name, "input": {"shape": [w.batch, w.in_channels, *w.input_size], "seed": 1},
                   "kernel": {"shape": [w.in_channels, w.out_channels, *(w.kernel_size,) * rank], "seed": 2},
                   "stride": w.stride, "padding": w.padding}
        cases[w.name] = case_from_mapping(mapping, file="bench", limits=BENCH_LIMITS)
    return cases


def adapter_times(adapters: Sequence[Adapter], *, repeats: int) -> list[dict[str, object]]:
    """Median ms of each adapter's `run` on each workload; an adapter that cannot run one says why."""
    rows: list[dict[str, object]] = []
    for name, case in workload_cases().items():
        for adapter in adapters:
            reason = adapter.supports(case)
            if reason is not None:
                rows.append({"workload": name, "adapter": adapter.name, "median_ms": None, "note": reason})
                continue
            try:
                rows.append({"workload": name, "adapter": adapter.name,
                             "median_ms": median_times_ms([lambda a=adapter: a.run(case)], repeats)[0], "note": ""})
            except Exception as error:  # noqa: BLE001 - the table says what failed
                rows.append({"workload": name, "adapter": adapter.name, "median_ms": None,
                             "note": f"{type(error).__name__}: {error}"[:200]})
    return rows


def suite_rates(cases: Sequence[Case], adapters: Sequence[Adapter], *, seconds: float) -> list[dict[str, object]]:
    """Rows per second of the built-in suite per framework (its adapters alone, in-process)."""
    from harness.runner import run

    rates = []
    for framework in dict.fromkeys(a.framework for a in adapters):
        chosen = [a for a in adapters if a.framework == framework]
        rows, done, start = 0, 0, time.perf_counter()
        for case in cases:
            rows += len(run([case], chosen).rows)
            done += 1
            if time.perf_counter() - start > seconds:
                break
        elapsed = time.perf_counter() - start
        rates.append({"framework": framework, "cases": done, "rows": rows, "seconds": round(elapsed, 2),
                      "rows_per_s": rows / elapsed if elapsed > 0 else None})
    return rates


def fuzz_rates(adapters: Sequence[Adapter], *, seconds: float) -> list[dict[str, object]]:
    """Fuzz examples per second per framework (forward, float32), each framework alone, after one
    warm-up case per adapter and one untimed fuzz example: the rate of a long fuzz run, not the
    first import (hypothesis' own included), the dynamo exporter's registry or the first compile
    (seconds that a short budget would be all spent on, leaving no example on a loaded machine)."""
    from adapters.base import probe_error
    from harness.fuzz import fuzz

    rates = []
    for framework in dict.fromkeys(a.framework for a in adapters):
        chosen = [a for a in adapters if a.framework == framework]
        for adapter in chosen:
            probe_error(adapter.run, "float32")
        fuzz(chosen, budget=1, seed=0, database=None)
        start = time.perf_counter()
        stats = fuzz(chosen, budget=100_000, seconds=seconds, seed=0, database=None)
        elapsed = time.perf_counter() - start
        rates.append({"framework": framework, "examples": stats.examples, "seconds": round(elapsed, 2),
                      "examples_per_s": stats.examples / elapsed if elapsed > 0 else None})
    return rates


def bench(adapters: Sequence[Adapter], *, cases_path: Path, repeats: int, suite_seconds: float,
          fuzz_seconds: float, threads: int) -> BenchResult:
    """Every measurement of the module docstring, in order."""
    from adapters.base import import_first
    from harness import model_cache

    import_first(a.framework for a in adapters)
    with model_cache.disabled():  # a conversion path's time is its conversion's, every repeat
        return _measured(adapters, cases_path=cases_path, repeats=repeats, suite_seconds=suite_seconds,
                         fuzz_seconds=fuzz_seconds, threads=threads)


def _measured(adapters: Sequence[Adapter], *, cases_path: Path, repeats: int, suite_seconds: float,
              fuzz_seconds: float, threads: int) -> BenchResult:
    from harness import machine
    from harness.bench_oracle import oracle_ratios
    from harness.casefile import load_cases

    result = BenchResult(machine={"cpu": machine.cpu_model(), "isa": machine.isa_summary(), "threads": str(threads)})
    result.oracle = oracle_ratios(repeats=repeats, threads=threads)
    result.peak_memory_mib["oracle"] = peak_rss_mib()
    # The NumPy formulations are the oracle's naive cross-checks (a dense matrix, a Python loop per
    # element): on these layers they would take hours or terabytes, and measure nothing deployed.
    result.adapters = adapter_times([a for a in adapters if a.framework != "numpy"], repeats=repeats)
    result.peak_memory_mib["adapters"] = peak_rss_mib()
    if suite_seconds > 0:
        result.suite = suite_rates(load_cases([cases_path]), adapters, seconds=suite_seconds)
        result.peak_memory_mib["suite"] = peak_rss_mib()
    if fuzz_seconds > 0:
        result.fuzz = fuzz_rates(adapters, seconds=fuzz_seconds)
        result.peak_memory_mib["fuzz"] = peak_rss_mib()
    return result


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def print_bench(result: BenchResult, console) -> None:  # noqa: ANN001 - a rich Console
    """The four tables and the peak memory, as `tconv bench` prints them."""
    from rich.table import Table

    console.print(f"machine: {result.machine.get('cpu')} ({result.machine.get('isa')}), "
                  f"{result.machine.get('threads')} threads")
    oracle = Table(title="oracle vs PyTorch float64 (median ms, same process and threads)")
    for column in ("workload", "oracle ms", "torch ms", "ratio"):
        oracle.add_column(column, justify="right" if column != "workload" else "left")
    for row in result.oracle:
        oracle.add_row(str(row["workload"]), _ms(row["oracle_ms"]), _ms(row["torch_ms"]), f"{row['ratio']:.2f}x")
    console.print(oracle)
    workloads = list(dict.fromkeys(str(r["workload"]) for r in result.adapters))
    times = Table(title="adapters on the workloads (float32, median ms)")
    times.add_column("adapter")
    for name in workloads:
        times.add_column(name, justify="right")
    for adapter in dict.fromkeys(str(r["adapter"]) for r in result.adapters):
        cells = {str(r["workload"]): r for r in result.adapters if r["adapter"] == adapter}
        times.add_row(adapter, *(_ms(cells[w]["median_ms"]) if w in cells and cells[w]["median_ms"] is not None
                                 else "unsup." for w in workloads))
    console.print(times)
    for title, rows, unit in (("built-in suite", result.suite, "rows_per_s"), ("fuzz", result.fuzz, "examples_per_s")):
        if not rows:
            continue
        table = Table(title=f"{title}: {unit.replace('_per_s', '')} per second per framework")
        for column in ("framework", unit.replace("_per_s", ""), "seconds", "per second"):
            table.add_column(column, justify="left" if column == "framework" else "right")
        for row in rows:
            rate = row[unit]
            table.add_row(str(row["framework"]), str(row[unit.replace("_per_s", "")]), str(row["seconds"]),
                          "-" if rate is None else f"{float(rate):.1f}")  # type: ignore[arg-type]
        console.print(table)
    console.print("peak memory: " + ", ".join(f"after {k} {v:.0f} MiB" for k, v in result.peak_memory_mib.items()))
