"""The JAX adapters run each layer as one `jax.jit` function; that must not change an answer: the
same functions run op by op (each op its own executable, as before) give the same bits, in
every dtype narrower than float64, forward and gradients. XLA may fuse the bias add into the
call's output and, allowed excess precision, skip a rounding in float16/bfloat16: this test is
what would catch it."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import jax_batch, jax_lax
from adapters.padding import canonical_spans, to_canonical_window, upstream_on_span
from harness.case import Case
from harness.casefile import case_from_mapping, load_cases
from tests.conftest import REPO

pytest.importorskip("jax")
pytestmark = pytest.mark.jax

SHAPES = [  # (input, kernel, stride, padding, groups): 1-D, and 2-D with groups (conv_general_dilated only)
    ([2, 4, 5], [4, 3, 3], [2], [[1, 0]], 1),
    ([1, 4, 3, 4], [4, 2, 3, 2], [2, 1], "same", 2),
]


def _case(dtype: str, shape: tuple) -> Case:
    """A layer with a bias (the op XLA could fuse) and every gradient."""
    x, k, stride, padding, groups = shape
    return case_from_mapping({
        "id": "jit", "input": {"shape": x, "seed": 1}, "kernel": {"shape": k, "seed": 2}, "stride": stride,
        "padding": padding, "groups": groups, "dtype": dtype, "bias": {"shape": [k[1] * groups], "seed": 3},
        "check": ["forward", "grad_input", "grad_weight", "grad_bias"]}, file="jit.yaml")


def _eager_forward(adapter: jax_lax._Jax, case: Case) -> np.ndarray:
    call, have = adapter._call(case)
    x, k, b = adapter._arrays(case)
    y = call.conv(x, k)
    if b is not None:
        y = jax_lax._bias_added(y, b)
    return to_canonical_window(np.asarray(y), have, case)


def _eager_gradients(adapter: jax_lax._Jax, case: Case) -> tuple[np.ndarray, ...]:
    call, have = adapter._call(case)
    upstream = upstream_on_span(case.upstream, canonical_spans(case), have)
    host = [jax_lax._host(a, case.dtype) for a in (upstream, case.upstream)]
    grads = jax_lax._pullback(*adapter._arrays(case), *host, call=call)  # not under jit: op by op
    return tuple(np.asarray(g) for g in grads if g is not None)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])  # float64: no wider type to compute in
def test_a_layer_under_jit_gives_the_bits_of_the_same_ops_run_one_by_one(dtype: str) -> None:
    for shape in SHAPES:
        case = _case(dtype, shape)
        for adapter in jax_lax.ADAPTERS:
            if adapter.supports(case) is not None:
                continue
            jitted, eager = adapter.run(case), _eager_forward(adapter, case)
            assert jitted.dtype == eager.dtype and jitted.tobytes() == eager.tobytes(), (adapter.name, shape)
            grads = adapter.gradients(case)
            names = ["grad_input", "grad_weight", "grad_bias"]
            eager_grads = _eager_gradients(adapter, case)
            eager_grads = (eager_grads[0], adapter.kernel_gradient(case, eager_grads[1]), *eager_grads[2:])
            for name, expected in zip(names, eager_grads):
                assert grads[name].tobytes() == expected.tobytes(), (adapter.name, shape, name)


# --- several layers in one executable (`prepare`, adapters/jax_batch.py) ----------------------------------------


def _batchable_cases() -> list[Case]:
    """One small or medium layer of each dtype, rank and kind (forward only, or with gradients): each
    compile alone costs ~80-100 ms."""
    files = ("shapes.yaml", "output_shape.yaml", "dtypes.yaml", "gradients.yaml")
    chosen: dict[tuple, Case] = {}
    for case in load_cases([REPO / "cases" / f for f in files]):
        if jax_batch.batchable(case):
            chosen.setdefault((case.dtype, case.rank, case.upstream is not None, case.groups > 1), case)
    return list(chosen.values())


def _outputs(adapter: jax_lax._Jax, case: Case) -> list[np.ndarray]:
    grads = adapter.gradients(case) if case.upstream is not None else {}
    return [adapter.run(case), *(grads[name] for name in sorted(grads))]


@pytest.mark.parametrize("adapter", jax_lax.ADAPTERS, ids=lambda a: a.name)
def test_a_layer_compiled_in_a_batch_gives_its_compile_alones_bits(adapter: jax_lax._Jax) -> None:
    cases = [c for c in _batchable_cases() if adapter.supports(c) is None]
    assert {c.dtype for c in cases} == {"float16", "bfloat16", "float32", "float64"} and len(cases) >= 10
    assert {c.rank for c in cases} == {1, 2, 3} and sum(c.upstream is not None for c in cases) >= 3
    assert any(jax_batch.work(c) > 1 << 16 for c in cases), "no medium layer shares a batch with small ones"
    jax_batch._PREPARED.clear()
    alone = [_outputs(adapter, c) for c in cases]
    adapter.prepare(cases)
    for case, expected in zip(cases, alone):
        call, have = adapter._call(case)
        assert jax_batch.prepared(jax_lax._forward, call, adapter._forward_arrays(case)) is not None, case.full_id
        if case.upstream is not None:
            assert jax_batch.prepared(jax_lax._pullback, call, adapter._gradient_arrays(case, have)) is not None
        batched = _outputs(adapter, case)
        for got, want in zip(batched, expected, strict=True):
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), case.full_id
    jax_batch._PREPARED.clear()


def test_a_layer_that_does_not_trace_is_left_to_its_own_row(monkeypatch) -> None:
    """The others are batched; that layer's row fails with its own error, not the batch's."""
    adapter = jax_lax.ADAPTERS[1]
    cases = [c for c in _batchable_cases() if c.dtype == "float32"][:6]
    broken = cases[2]
    conv = jax_lax._Call.conv

    def refusing(self, x, kernel):  # noqa: ANN001, ANN202
        if x.shape == broken.input.shape and kernel.shape == adapter.kernel(broken).shape:
            raise ValueError("this layer does not trace")
        return conv(self, x, kernel)

    monkeypatch.setattr(jax_lax._Call, "conv", refusing)
    jax_lax._jax().clear_caches()  # an earlier test may have traced the layer, and JAX would not trace it again
    jax_batch._PREPARED.clear()
    adapter.prepare(cases)
    for case in cases:
        batched = jax_batch.prepared(jax_lax._forward, adapter._call(case)[0], adapter._forward_arrays(case))
        assert (batched is None) == (case is broken), case.full_id
    with pytest.raises(ValueError, match="does not trace"):
        adapter.run(broken)
    jax_batch._PREPARED.clear()


def test_a_batch_holds_at_most_its_work_budget(monkeypatch) -> None:
    """Layers go into batches in their order, a new one where the next would pass `BATCH_MACS`;
    a layer already prepared, or twice in the list, is compiled once."""
    batches = []

    def recorded(function, layers):  # noqa: ANN001, ANN202
        batches.append([arrays[0] for _, arrays in layers])
        return [f"layer {arrays[0]}" for _, arrays in layers]

    monkeypatch.setattr(jax_batch, "compiled_together", recorded)
    monkeypatch.setattr(jax_batch, "_PREPARED", type(jax_batch._PREPARED)())
    budget = jax_batch.BATCH_MACS
    works = [budget // 2, budget // 4, budget // 4, 1, budget // 2, 7, 7]
    layers = [(("call", i), (np.zeros(i + 1),), w) for i, w in enumerate(works)]
    jax_batch.prepare(jax_lax._forward, [*layers, layers[3]])
    assert [[a.size - 1 for a in batch] for batch in batches] == [[0, 1, 2], [3, 4, 5, 6]]
    assert all(sum(works[a.size - 1] for a in batch) <= budget for batch in batches)
    jax_batch.prepare(jax_lax._forward, layers)
    assert len(batches) == 2  # every layer prepared already
