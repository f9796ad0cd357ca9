"""No blind spot for low-precision sums: an adapter that accumulates the channel sum or the tap
sum in float16/bfloat16 (rounding after every add) fails at least one built-in row of each
low dtype and rank. Zero-mean data hide such an adapter (errors cancel); the positive-mean and
integer-valued cases of cases/low_precision.yaml must not."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.base import Adapter
from harness.case import Case
from harness.casefile import load_cases
from harness.dtypes import numpy_dtype, round_to
from harness.geometry import output_window
from harness.runner import run
from tests.conftest import REPO

LOW = ("float16", "bfloat16")
CASES = [c for c in load_cases([REPO / "cases" / "low_precision.yaml"]) if c.dtype in LOW and 0 not in c.input.shape + c.kernel.shape
         and np.isfinite(c.input).all() and np.isfinite(c.kernel).all()]


def _windows(case: Case):
    return [output_window(case.input_size[d], case.kernel_size[d], stride=case.stride[d], dilation=case.dilation[d],
                          padding=case.padding[d], output_padding=case.output_padding[d],
                          output_shape=None if case.output_shape is None else case.output_shape[d])
            for d in range(case.rank)]


def _contribution(case: Case, tap: tuple[int, ...], channel: int | None) -> np.ndarray:
    """One kernel tap's exact products (all input channels, or one), scattered into the canonical
    window, float64: the terms a low-precision accumulator would add one by one."""
    g = case.groups
    c_in_g, c_out_g = case.in_channels // g, case.out_channels // g
    x = case.input.reshape(case.batch, g, c_in_g, *case.input_size)
    w = case.kernel.reshape(g, c_in_g, c_out_g, *case.kernel_size)[(slice(None), slice(None), slice(None), *tap)]
    if channel is not None:
        keep = np.zeros((g, c_in_g), dtype=bool)
        keep[channel // c_in_g, channel % c_in_g] = True
        w = np.where(keep[:, :, None], w, 0.0)
    products = np.einsum("ngi...,gio->ngo...", x, w).reshape(case.batch, case.out_channels, *case.input_size)
    full = [(n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(case.input_size, case.stride, case.dilation,
                                                                 case.kernel_size)]
    out = np.zeros((case.batch, case.out_channels, *(max(f, win.stop) for f, win in zip(full, _windows(case)))))
    out[(slice(None), slice(None), *(slice(j * d, j * d + (n - 1) * s + 1, s) for j, d, n, s in
                                      zip(tap, case.dilation, case.input_size, case.stride)))] = products
    return out[(slice(None), slice(None), *(slice(win.start, win.stop) for win in _windows(case)))]


def _finish(case: Case, total: np.ndarray) -> np.ndarray:
    if case.bias is not None:
        total = round_to(total + case.bias.reshape((1, -1) + (1,) * case.rank), case.dtype)
    return total.astype(numpy_dtype(case.dtype))


class ChannelsInLowDtype(Adapter):
    """Each input channel's contribution (its taps summed exactly), added one channel at a time
    in the accumulation dtype (the case dtype: the slip)."""

    name, framework = "broken.channels-in-low-dtype", "numpy"
    accumulate_in: str | None = None

    def run(self, case: Case) -> np.ndarray:
        acc = self.accumulate_in or case.dtype
        total = 0.0
        for c in range(case.in_channels):
            part = sum(_contribution(case, tap, c) for tap in np.ndindex(*case.kernel_size))
            total = round_to(total + part, acc)
        return _finish(case, round_to(total, case.dtype))


class TapsInLowDtype(Adapter):
    """Each kernel tap's contribution (channels summed exactly), added one tap at a time in the
    case dtype."""

    name, framework = "broken.taps-in-low-dtype", "numpy"

    def run(self, case: Case) -> np.ndarray:
        total = 0.0
        for tap in np.ndindex(*case.kernel_size):
            total = round_to(total + _contribution(case, tap, None), case.dtype)
        return _finish(case, round_to(total, case.dtype))


@pytest.mark.parametrize("adapter", [ChannelsInLowDtype(), TapsInLowDtype()], ids=lambda a: a.name)
def test_low_dtype_accumulation_fails_in_every_dtype_and_rank(adapter: Adapter) -> None:
    rows = run(CASES, [adapter]).rows
    failed = {(r.params["dtype"], r.params["rank"]) for r in rows if r.adapter == adapter.name and r.status == "fail"}
    wanted = {(d, str(rank)) for d in LOW for rank in (1, 2, 3)}
    assert wanted <= failed, f"{adapter.name} passes every row of {sorted(wanted - failed)}"


def test_the_same_sums_in_float32_pass() -> None:
    """The control: the same channel-by-channel sums accumulated in float32 pass, so the
    failures above are the low-precision accumulation and nothing else."""

    class ChannelsInFloat32(ChannelsInLowDtype):
        name, accumulate_in = "control.channels-in-float32", "float32"

    rows = run(CASES, [ChannelsInFloat32()]).rows
    assert {r.status for r in rows} == {"pass"}, [r.bug_report() for r in rows if r.status != "pass"][:2]
