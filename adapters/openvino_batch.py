"""Many one-layer OpenVINO models compiled as one: the CPU plugin's `compile_model` costs ~30 ms
here whatever the model's size, ~9 ms a layer when 32 layers share a compile.

`prepare` puts the models of the next cases side by side in one `ov.Model` (their parameters
and results listed in turn, nothing joined) and compiles that once; each layer's row then runs
the compiled model with its own inputs and reads its own output, and its `path` is its own
backprop node's (named `tconv_layer_<i>` before the compile, so it is found in the runtime model
after the plugin's fusions). The plugin picks a node's kernel by that node's shapes and element
types alone: tests/test_openvino.py checks that every layer of a batch gives the answer, bit for
bit, and the path of its compile alone. The other layers of the batch run too, on zeros (the
plugin runs a whole model), so only small layers are batched (`BATCHABLE_ELEMENTS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.padding import canonical_spans
from harness.case import Case

BACKPROP_OPS = ("ConvolutionBackpropData", "GroupConvolutionBackpropData")
# The largest input, kernel or output (elements) a batched layer has: every row of a batch runs all
# its layers, which for layers this small costs far less than a compile of its own.
BATCHABLE_ELEMENTS = 1 << 14


def batchable(case: Case) -> bool:
    """A layer to compile with others: no empty tensor (the plugin's refusals are each row's own)
    and small enough that running the whole batch for its row is cheap."""
    output = case.batch * case.out_channels * math.prod(span.length for span in canonical_spans(case))
    return all(0 < size <= BATCHABLE_ELEMENTS for size in (case.input.size, case.kernel.size, output))


@dataclass
class _Shared:
    """A compiled model and the one infer request its layers' rows use in turn."""

    model: Any
    request: Any = None
    runtime_nodes: Any = None  # what the runtime model says of its Deconvolution nodes, once read

    def ready_request(self) -> Any:
        if self.request is None:
            self.request = self.model.create_infer_request()
            for index, port in enumerate(self.model.inputs):  # the other layers run on zeros, not stale memory
                self.request.set_input_tensor(index, _zeros_like(port))
        return self.request


def _zeros_like(port: Any) -> Any:
    import openvino as ov

    tensor = ov.Tensor(port.get_element_type(), port.get_shape())
    tensor.data.view(np.uint8)[...] = 0
    return tensor


@dataclass
class Compiled:
    """One layer of a compiled model: its inputs by the name its own model gives them, its output,
    and the friendly name of its backprop node (None: the model has one layer)."""

    shared: _Shared
    inputs: dict[str, int]
    output: int = 0
    node: str | None = None

    @classmethod
    def alone(cls, compiled: Any, model: Any) -> Compiled:
        """A model compiled by itself."""
        return cls(_Shared(compiled), _input_indices(model.get_parameters(), 0))

    @property
    def model(self) -> Any:
        """The `ov.CompiledModel` (the whole batch's, for a batched layer)."""
        return self.shared.model

    def infer(self, tensors: dict[str, Any]) -> Any:
        """Run with this layer's inputs (by name) and return its output tensor."""
        request = self.model.create_infer_request() if self.node is None else self.shared.ready_request()
        for name, tensor in tensors.items():
            request.set_input_tensor(self.inputs[name], tensor)
        request.infer()
        return request.get_output_tensor(self.output)


def _input_indices(parameters: Sequence[Any], first: int) -> dict[str, int]:
    """Each parameter's names (its friendly name and tensor names) -> its index in the compiled model."""
    indices: dict[str, int] = {}
    for offset, parameter in enumerate(parameters):
        for name in {parameter.get_friendly_name(), *parameter.output(0).get_names()}:
            indices[name] = first + offset
    return indices


def tag_layer(model: Any, tag: str) -> bool:
    """Name the model's one backprop node `tag`; False where it has none or several (not batched)."""
    nodes = [op for op in model.get_ordered_ops() if op.get_type_name() in BACKPROP_OPS]
    if len(nodes) != 1:
        return False
    nodes[0].set_friendly_name(tag)
    return True


def compiled_together(models: Sequence[Any], compile_model: Callable[[Any], Any]) -> list[Compiled]:
    """The models side by side in one `ov.Model`, compiled once: one `Compiled` per model, in order."""
    import openvino as ov

    parameters: list[Any] = []
    results: list[Any] = []
    layers = []
    for i, model in enumerate(models):
        if len(model.get_results()) != 1 or not tag_layer(model, f"tconv_layer_{i}"):
            raise ValueError(f"model {i} is not one backprop node with one output")
        layers.append((_input_indices(model.get_parameters(), len(parameters)), len(results), f"tconv_layer_{i}"))
        parameters += model.get_parameters()
        results += model.get_results()
    shared = _Shared(compile_model(ov.Model(results, parameters, "tconv_batch")))
    return [Compiled(shared, inputs, output, node) for inputs, output, node in layers]
