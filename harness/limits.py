"""How big a case file and a case may be: caps checked before anything is parsed or allocated.

A case file is data from anyone, so reading it must never hang, crash or exhaust memory. Two
kinds of bounds:

- caps on the file itself, fixed (module constants): its size, how deep its YAML nests, how many
  values it holds once aliases, `defaults:` and `sweep:` are expanded, how many cases it makes,
  and how large one size or step may be. Each is far above what a real case file needs.
- `Limits`, per run (`--max-memory`, `--max-work`): what one case may cost to run, estimated from
  its shapes alone (`estimate`) before any array is drawn or allocated.

`estimate` is deliberately rough (a few terms, each an upper-bound-ish count of one buffer or of
one kind of work); its job is to tell a case that runs in seconds from one that would take hours
or all the memory, with a margin of orders of magnitude either way.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from harness.dtypes import numpy_dtype

MAX_FILE_BYTES = 8 * 2**20  # a case file; the built-in files are under 20 KiB each
MAX_DEPTH = 64  # YAML nesting; a case needs about 8 (a 3-D input in a case in a list)
# Values (numbers, strings, lists, mappings) written out in one file. Reading one costs about
# 0.7 KB and 4-8 us (PyYAML's node, its position, the constructed value), so this bounds a file's
# reading to about 350 MB and 5 s; an explicit array that large belongs in a
# generated one (`{shape, seed}`). The built-in files hold a few thousand each.
MAX_NODES = 500_000
# Values once aliases, `defaults:` and sweeps are expanded (each case validates its own copy, at
# about 0.3 us a value): a billion-laughs bomb or a large default swept 10,000 times stops here.
MAX_VALUES = 10**7
MAX_CASES_PER_FILE = 10_000  # after sweeps; the built-in suite has a few hundred in all
MAX_EXTENT = 2**31 - 1  # one size, step, padding or channel count: larger is never a real case

# Work is counted in multiply-adds. The gradient oracle, and the oracle's per-tap path (non-finite
# data, or where it is the cheaper path), loop over kernel taps in Python: one GEMM and one strided
# add per tap, tens of microseconds each however small the GEMM, so a tap is counted as this many
# multiply-adds besides its arithmetic. The oracle's phase path is taken only where its own cost
# model finds it cheaper than that loop, so counting the loop keeps a (rough) upper bound on both.
TAP_COST = 10_000
# Drawing one generated value (SplitMix64, 12 words for a normal sample) costs about this many.
DRAW_COST = 20
DEFAULT_MAX_WORK = 2 * 10**10  # a few seconds of the float64 oracle on one core; adapters run it too


def physical_memory() -> int:
    """The machine's RAM in bytes (POSIX `sysconf`), or 8 GiB where that cannot be read; a
    container's cgroup memory limit instead when it is smaller (what the process may really use)."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        total = pages * page_size if pages > 0 and page_size > 0 else 8 * 2**30
    except (AttributeError, ValueError, OSError):
        total = 8 * 2**30
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(name, encoding="ascii") as file:
                text = file.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


@dataclass(frozen=True)
class Limits:
    """What one case may cost: `max_memory` bytes at its peak, `max_work` multiply-adds."""

    max_memory: int
    max_work: int

    def __post_init__(self) -> None:
        if self.max_memory <= 0 or self.max_work <= 0:
            raise ValueError(f"limits must be positive, got {self}")


# A quarter of RAM: the frameworks, their libraries and the other cases' arrays need the rest.
DEFAULT_LIMITS = Limits(max_memory=physical_memory() // 4, max_work=DEFAULT_MAX_WORK)


@dataclass(frozen=True)
class Estimate:
    """The cost of one case: peak `memory_bytes`, `work` in multiply-adds, and `held_bytes`, the
    arrays its `Case` keeps for the whole run; `shapes` names the largest buffers for messages."""

    memory_bytes: int
    work: int
    held_bytes: int
    shapes: str = ""
    taps: int = 0


def estimate(
    *,
    batch: int,
    in_channels: int,
    out_channels: int,
    groups: int,
    input_size: Sequence[int],
    kernel_size: Sequence[int],
    output_size: Sequence[int],
    dtype: str,
    full_size: Sequence[int] | None = None,
    gradients: bool = False,
    generated: int = 0,
) -> Estimate:
    """The cost of one case from its shapes alone (plain integers: nothing is allocated).

    With `E_in`, `E_k`, `E_out` the elements of input, kernel and output, `E_full` those of the
    oracle's uncropped result (`full_size`, at least the output; a large `padding` crops it),
    `E_tap` one tap's product (N x C_out x input pixels), and `E_col` a framework's column buffer
    (C_out x kernel taps x input pixels, one batch item: PyTorch's CPU path builds it), memory is
    float64 (8 bytes) for the case's own arrays and the oracle's, the case dtype for a framework's:

    - `8 (2 E_in + 2 E_k)`: the case's input and kernel, and the oracle's GEMM copies of them;
    - `8 (2 E_full + E_tap)`: the oracle's per-tap path: its full result (and the window copy
      read from it), one tap's product. Its phase path needs less (the output, and im2col chunks
      within `2 E_in + E_out`), but non-finite data and the gradients take the per-tap path;
    - `8 x 3 E_out + itemsize x (E_out + E_col)`: a framework's result, its float64 copy and the
      comparison's temporaries (two output-sized arrays), and the framework's column buffer;
    - with `gradients`: `8 (E_out + E_full + E_tap + 2 E_in + 2 E_k)`, the upstream gradient and
      its copy on the full result, per-tap products, the oracle's gradients and a framework's.

    Work is `N C_in (C_out / groups) taps pixels` multiply-adds (each input value meets each tap of
    each output channel of its group), plus `TAP_COST` per kernel tap for the oracle's Python loop,
    plus `DRAW_COST` per `generated` value; gradients are two more such passes (grad_input and
    grad_weight), so three times the forward work.
    """
    pixels, taps = math.prod(input_size), math.prod(kernel_size)
    e_in, e_k = batch * in_channels * pixels, in_channels * (out_channels // max(groups, 1)) * taps
    e_out = batch * out_channels * math.prod(output_size)
    e_full = max(batch * out_channels * math.prod(full_size or output_size), e_out)
    e_tap = batch * out_channels * pixels
    e_col = out_channels * taps * pixels
    itemsize = numpy_dtype(dtype).itemsize
    memory = 8 * (2 * e_in + 2 * e_k + 2 * e_full + e_tap + 3 * e_out) + itemsize * (e_out + e_col)
    held = 8 * (e_in + e_k + out_channels)
    macs = batch * in_channels * (out_channels // max(groups, 1)) * taps * pixels
    work = macs + TAP_COST * taps
    if gradients:
        memory += 8 * (e_out + e_full + e_tap + 2 * e_in + 2 * e_k)
        held += 8 * e_out
        work *= 3
    work += DRAW_COST * generated
    shapes = (f"input {_shape(batch, in_channels, input_size)}, kernel "
              f"{_shape(in_channels, out_channels // max(groups, 1), kernel_size)}, output "
              f"{_shape(batch, out_channels, output_size)}")
    return Estimate(memory_bytes=memory, work=work, held_bytes=held, shapes=shapes, taps=taps)


def limit_problem(cost: Estimate, limits: Limits, *, held_before: int = 0) -> str | None:
    """Why a case is over the limits (one line that says what to do), or None.

    `held_before` is what the cases loaded before this one keep in memory: every case's arrays
    stay loaded for the whole run, so they count against the same `max_memory`.
    """
    memory = cost.memory_bytes + held_before
    if memory > limits.max_memory:
        others = f" with {format_bytes(held_before)} held by the cases before it" if held_before else ""
        return (f"needs about {format_bytes(memory)} of memory ({cost.shapes}){others}, over --max-memory "
                f"{format_bytes(limits.max_memory)}; make the case smaller or raise --max-memory")
    if cost.work > limits.max_work:
        return (f"needs about {format_count(cost.work)} multiply-adds ({cost.shapes}; each of its {cost.taps:,} "
                f"kernel taps counts {TAP_COST:,} more for the oracle's loop over taps), over --max-work "
                f"{format_count(limits.max_work)}; make the case smaller or raise --max-work")
    return None


def extent_problem(value: int) -> str | None:
    """Why one size, step or count is too large for shape arithmetic to mean anything, or None."""
    if value > MAX_EXTENT:
        return f"is {short_int(value)}, over {MAX_EXTENT:,} (2**31 - 1), the largest size or step a case may use"
    return None


def format_bytes(count: int) -> str:
    """`5.8 GiB`, `87.3 TiB`; astronomically large counts in scientific EiB."""
    value = float(count) if count < 2**1000 else math.inf
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.3g} EiB"


def format_count(count: int) -> str:
    """`2e+10`-style for large counts, digits for small ones."""
    if count < 10**6:
        return f"{count:,}"
    return f"{float(count):.2g}" if count < 2**1000 else f"about 10^{len(str(count)) - 1}"


def short_int(value: int) -> str:
    """An integer for a message: its digits, or `10^400`-style when it has too many to read."""
    digits = len(str(abs(value))) if value.bit_length() < 10_000 else int(value.bit_length() * 0.30103) + 1
    if digits <= 20:
        return str(value)
    return f"{'-' if value < 0 else ''}about 10^{digits - 1}"


def _shape(*dims: int | Sequence[int]) -> str:
    flat: list[int] = []
    for dim in dims:
        flat.extend(dim if isinstance(dim, Sequence) else [dim])
    return "x".join(short_int(d) for d in flat)
