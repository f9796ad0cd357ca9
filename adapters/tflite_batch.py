"""Several layers through one call of TensorFlow's TFLite converter, each cut out as its own model.

A TFLite conversion of one small layer costs ~70-80 ms on a 2-core EPYC, most of it the
converter's fixed work (freezing the function, grappler, the MLIR pipeline); the built-in suite
converts ~570 layers on the two LiteRT paths. `prepare` hands the next cases' layers here: they
are traced side by side in one `tf.function` (one input and one output each, nothing joined),
converted once (~30 ms a layer), and each layer's operators, tensors and buffers are cut out into
a model of its own whose input and output carry the names the layer's own conversion gives them
(`inputs`, `Identity`). A row then runs its own model as it would run a fresh conversion; the
converter translated each layer as it translates it alone (`tests/test_litert.py` holds every
cut model to the lone conversion's answer, bit for bit). Layers with an empty dimension are left
to their rows (`adapters.tf_prepared`, which the tf2onnx paths share).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np

from adapters.base import import_framework

INPUT_NAME, OUTPUT_NAME = b"inputs", b"Identity"  # what the converter names a lone layer's input and output


def converted_together(functions: Sequence[Callable], inputs: Sequence[np.ndarray], dtype: str) -> list[bytes]:
    """Each traced layer's TFLite model, from one conversion of all of them side by side."""
    tf = import_framework("tensorflow")
    specs = [tf.TensorSpec(x.shape, getattr(tf, dtype)) for x in inputs]

    @tf.function(input_signature=specs, autograph=False)  # a call per layer, no Python control flow
    def together(*xs):  # noqa: ANN002, ANN202
        return [function(x) for function, x in zip(functions, xs)]

    model = tf.lite.TFLiteConverter.from_concrete_functions([together.get_concrete_function()], together).convert()
    from tensorflow.lite.tools import flatbuffer_utils

    whole = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    if len(whole.subgraphs) != 1 or len(whole.subgraphs[0].inputs) != len(functions) \
            or len(whole.subgraphs[0].outputs) != len(functions):
        raise ValueError("the converter did not keep one input and one output per layer")
    cut = (_cut_out(whole, index) for index in range(len(functions)))
    return [bytes(flatbuffer_utils.convert_object_to_bytearray(part)) for part in cut]


def _cut_out(whole, index: int):  # noqa: ANN001, ANN202 - tflite schema ModelT objects
    """Layer `index` of the converted batch as a model of its own: the operators its output needs,
    their tensors and buffers renumbered in their order, the model's metadata kept."""
    graph = whole.subgraphs[0]
    x, y = int(graph.inputs[index]), int(graph.outputs[index])
    needed, operators = {y}, []
    for operator in reversed(graph.operators):
        if any(int(o) in needed for o in operator.outputs):
            operators.append(operator)
            needed.update(int(i) for i in operator.inputs if i >= 0)
            if operator.intermediates is not None and len(operator.intermediates):
                raise ValueError("an operator with intermediate tensors")  # not renumbered here
    operators.reverse()
    tensor_order = sorted(needed | {x})
    tensor_index = {old: new for new, old in enumerate(tensor_order)}
    metadata = [copy.copy(entry) for entry in whole.metadata or []]
    kept_buffers = sorted(({graph.tensors[t].buffer for t in tensor_order} | {m.buffer for m in metadata}) - {0})
    buffer_index = {0: 0, **{old: new for new, old in enumerate(kept_buffers, start=1)}}  # 0: the empty buffer

    tensors = []
    for old in tensor_order:
        tensor = copy.copy(graph.tensors[old])
        tensor.buffer = buffer_index[tensor.buffer]
        tensor.name = {x: INPUT_NAME, y: OUTPUT_NAME}.get(old, tensor.name)
        tensors.append(tensor)
    renumbered = []
    for operator in operators:
        operator = copy.copy(operator)
        operator.inputs = [tensor_index[int(i)] if i >= 0 else int(i) for i in operator.inputs]
        operator.outputs = [tensor_index[int(o)] for o in operator.outputs]
        renumbered.append(operator)
    for entry in metadata:
        entry.buffer = buffer_index[entry.buffer]

    part = copy.copy(whole)
    subgraph = copy.copy(graph)
    subgraph.tensors, subgraph.operators = tensors, renumbered
    subgraph.inputs, subgraph.outputs = [tensor_index[x]], [tensor_index[y]]
    part.subgraphs = [subgraph]
    part.buffers = [whole.buffers[0], *(whole.buffers[b] for b in kept_buffers)]
    part.metadata = metadata
    part.signatureDefs = []
    return part
