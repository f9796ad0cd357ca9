"""Many JAX layers compiled as one XLA executable: XLA's compile of one small conv costs ~70-100 ms
here, most of it fixed; ~40 ms a layer when 32 layers share a compile. With the persistent cache
on, a later run of the same cases loads one executable per batch instead of lowering and loading one
per layer (other cases, or another order, make other batches: new entries, compiled afresh).

`prepare` lowers the next cases' small layers as one `jax.jit` function of all their arrays (a
list of each layer's own function, `_forward` or `_pullback`, on its own arguments: nothing
joined) and compiles it once. Each row then runs the whole executable with its own arrays in its
layer's place and zeros in the others', and reads its own output, so a batch holds little work:
its layers' forward multiply-adds together at most `BATCH_MACS` (32 layers of 2^16, or two of
2^20; a gradient batch does ~3x its forward's). A medium layer compiled alone cost ~0.1 s, and the
built-in suite has ~45 per adapter. XLA compiles each op of a module by its own shapes and
attributes: tests/test_jax_jit.py checks that every layer of a batch gives, bit for bit, what
its compile alone gives. A batch that fails to trace or compile is halved until the failing layer
is alone (`in_halves`), and that layer is left to its row, which says why.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from adapters.base import import_framework, in_halves
from adapters.padding import canonical_spans
from harness.case import Case

# The most forward multiply-adds of a whole batch (its gradient batch does ~3x): every row of a batch runs all
# its layers, which for this little work (a few milliseconds) costs far less than a compile of each on its own.
BATCH_MACS = 1 << 21
KEPT = 256  # prepared layers kept: two adapters' forward and gradient batches, twice over

Arguments = tuple[Any, ...]  # a layer's arrays (None where it takes none, as a bias-free layer's bias)


def work(case: Case) -> int:
    """The layer's multiply-adds (those of its result window)."""
    output = math.prod(span.length for span in canonical_spans(case))
    return case.batch * case.out_channels * output * (case.in_channels // case.groups) * math.prod(case.kernel_size)


def batchable(case: Case) -> bool:
    """A layer to compile with others: no empty tensor (its errors are its own row's) and at most
    half a batch's work (a bigger one would share its executable with little)."""
    return case.input.size > 0 and case.kernel.size > 0 and 0 < work(case) <= BATCH_MACS // 2


def layer_key(function: Callable, call: Hashable, arrays: Arguments) -> tuple:
    """What one executable of `function` is compiled for: its static call and its arrays' shapes and dtypes."""
    return (function.__name__, call,
            tuple(None if a is None else (a.shape, np.dtype(a.dtype).name) for a in arrays))


@dataclass
class BatchedLayer:
    """One layer of an executable compiled for several: run with its own arrays, zeros elsewhere."""

    executable: Any  # `jax.stages.Compiled` of the list of every layer's arguments
    zeros: list[Arguments]  # each layer's arguments as zeros already on the device
    index: int

    def __call__(self, arrays: Arguments) -> Any:
        arguments = list(self.zeros)
        arguments[self.index] = tuple(arrays)
        return self.executable(arguments)[self.index]


_PREPARED: OrderedDict[tuple, BatchedLayer] = OrderedDict()  # layer_key -> a layer compiled in a batch


def prepared(function: Callable, call: Hashable, arrays: Arguments) -> BatchedLayer | None:
    """The layer `prepare` compiled in a batch for these arguments, or None (compile it alone)."""
    return _PREPARED.get(layer_key(function, call, arrays))


def compiled_together(function: Callable, layers: Sequence[tuple[Hashable, Arguments]]) -> list[BatchedLayer]:
    """`function` of each (call, arrays) in one jitted function, compiled once: a `BatchedLayer` each, in order."""
    jax = import_framework("jax")
    calls = [call for call, _ in layers]

    def batch(arguments: list[Arguments]) -> list[Any]:
        return [function(*args, call=call) for args, call in zip(arguments, calls)]

    shapes = [tuple(None if a is None else jax.ShapeDtypeStruct(a.shape, a.dtype) for a in arrays)
              for _, arrays in layers]
    executable = jax.jit(batch).lower(shapes).compile()
    zeros = [tuple(None if a is None else jax.device_put(np.zeros(a.shape, a.dtype)) for a in arrays)
             for _, arrays in layers]
    return [BatchedLayer(executable, zeros, index) for index in range(len(layers))]


def prepare(function: Callable, layers: Sequence[tuple[Hashable, Arguments, int]]) -> None:
    """Compile the layers (call, arrays, work) not prepared yet in batches of at most `BATCH_MACS`
    in their order, each halved where it fails to trace or compile."""
    todo: dict[tuple, tuple[Hashable, Arguments]] = {}
    batches: list[list[tuple]] = [[]]
    total = 0
    for call, arrays, macs in layers:
        key = layer_key(function, call, arrays)
        if key in _PREPARED or key in todo:
            continue
        if total + macs > BATCH_MACS:
            batches.append([])
            total = 0
        todo[key] = (call, arrays)
        batches[-1].append(key)
        total += macs
    for keys in filter(None, batches):
        made = in_halves([todo[key] for key in keys], partial(compiled_together, function))
        _PREPARED.update({key: made[i] for i, key in enumerate(keys) if i in made})
    while len(_PREPARED) > KEPT:  # layers handed ahead whose rows never came
        _PREPARED.popitem(last=False)
