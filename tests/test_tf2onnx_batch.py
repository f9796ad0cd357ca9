"""The tf2onnx paths convert the next cases' layers in one tf2onnx call and cut each one out
(`adapters.tensorflow_tf2onnx._converted_together`): a cut model must be the layer's lone
conversion in all that a row sees of it (the operators and their attributes in order, the
input and output, and ONNX Runtime's answer bit for bit or its error word for word), and a
layer tf2onnx refuses in a batch must be left to its own row."""

from __future__ import annotations

import importlib.util

import pytest

from harness import model_cache
from harness.casefile import load_cases
from tests.conftest import REPO

pytestmark = [pytest.mark.tensorflow, pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("tensorflow", "tf2onnx", "onnxruntime")),
    reason="needs TensorFlow, tf2onnx and ONNX Runtime")]

# Every 7th case of these files: ranks 1-3, strides, dilations, crops, output_padding, output_shape, bias or none;
# some of them ONNX Runtime refuses (a known entry), whose error the cut model must give too.
FILES = ("shapes.yaml", "padding.yaml", "output_shape.yaml", "channels.yaml", "ranks.yaml")
CASES = load_cases([REPO / "cases" / f for f in FILES])[::7]


def _seen(model: bytes) -> tuple:
    """What a row's runtime sees of a model: node names, op types and attributes in order, inputs and outputs."""
    import onnx

    graph = onnx.load_from_string(model).graph
    nodes = [(n.op_type, [(a.name, onnx.helper.get_attribute_value(a)) for a in n.attribute if a.name != "value"])
             for n in graph.node]
    named = [n.name for n in graph.node if "__" not in n.name]  # tf2onnx's numbered helper nodes aside
    return nodes, named, [(v.name, str(v.type)) for v in graph.input], [(v.name, str(v.type)) for v in graph.output]


def _outcome(adapter, case):  # noqa: ANN001, ANN202 - an answer's bytes, or the error's words
    try:
        return adapter.run(case).tobytes()
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"


@pytest.mark.parametrize("name", ["tensorflow.tf2onnx", "keras.tf2onnx"])
def test_a_layer_cut_from_a_batched_conversion_is_its_lone_conversion(name: str, monkeypatch) -> None:
    from adapters import tensorflow_tf2onnx as module

    adapter = next(a for a in module.ADAPTERS if a.name == name)
    cases = [c for c in CASES if adapter.supports(c) is None]
    assert len(cases) >= 15 and {c.rank for c in cases} == {1, 2, 3} and any(c.bias is None for c in cases)
    models: list[bytes] = []
    with model_cache.disabled():
        monkeypatch.setattr(model_cache, "converted",
                            lambda adapter, case, convert, **kw: models.append(convert()) or models[-1])
        module._PREPARED.clear()
        adapter.prepare(cases)
        assert len(module._PREPARED) == len(cases)  # every one of these converts in a batch
        from_cut = [(_outcome(adapter, case), models[-1]) for case in cases]
        assert not module._PREPARED
        alone = [(_outcome(adapter, case), models[-1]) for case in cases]  # nothing prepared: each converts alone
    assert sum(isinstance(outcome, str) for outcome, _ in alone) >= 1  # an error among them, compared too
    for case, (cut_outcome, cut_model), (lone_outcome, lone_model) in zip(cases, from_cut, alone, strict=True):
        assert _seen(cut_model) == _seen(lone_model), case.full_id
        assert cut_outcome == lone_outcome, case.full_id


def test_a_layer_tf2onnx_refuses_in_a_batch_is_left_to_its_row(monkeypatch) -> None:
    from adapters import tensorflow_tf2onnx as module
    from harness.runner import adapter_row

    adapter = module.TensorFlowTf2Onnx()
    cases = [c for c in CASES if adapter.supports(c) is None][:6]
    shapes = [module.graph_function(c)[1].shape for c in cases]
    refused = next(c for c, shape in zip(cases, shapes) if shapes.count(shape) == 1)  # known by its input's shape
    real = module._converted_together

    def together(functions, inputs, dtype):  # noqa: ANN001, ANN202 - the real converter, refusing one layer
        if any(x.shape == shapes[cases.index(refused)] for x in inputs):
            raise ValueError("cannot convert this one")
        return real(functions, inputs, dtype)

    monkeypatch.setattr(module, "_converted_together", together)
    with model_cache.disabled():
        module._PREPARED.clear()
        adapter.prepare(cases)
        assert set(module._PREPARED) == {model_cache.layer_key(adapter.name, c) for c in cases if c is not refused}
        alone, converted = [], module._converted
        monkeypatch.setattr(module, "_converted", lambda function: alone.append(function) or converted(function))
        rows = [adapter_row(case, adapter) for case in cases]
        assert len(alone) == 1 and not module._PREPARED
        rows_alone = [adapter_row(case, adapter) for case in cases]  # nothing prepared: each converts alone
    assert [(r.status, r.message) for r in rows] == [(r.status, r.message) for r in rows_alone]


def _beside_the_default(model: bytes, layer) -> tuple:  # noqa: ANN001 - a traced tf.function
    """What a row sees of `model` (`_seen`) and its constants' values, beside the same of tf2onnx's
    default conversion of `layer` (the constants sorted: tf2onnx lists its folded ones in the order
    of its name counter)."""
    import onnx
    import tf2onnx

    from adapters.tensorflow_tf2onnx import OPSET

    def view(made: bytes) -> tuple:
        constants = onnx.load_from_string(made).graph.initializer
        return _seen(made), sorted(onnx.numpy_helper.to_array(t).tobytes() for t in constants)

    default = tf2onnx.convert.from_function(layer, input_signature=layer.input_signature, opset=OPSET)[0]
    return view(model), view(default.SerializeToString())


def test_the_optimizer_run_in_place_makes_tf2onnxs_default_model() -> None:
    """`_from_function` runs tf2onnx's optimizer without its rollback copies (`TF2ONNX_CATCH_ERRORS`):
    the model must be the default's, operator for operator, attribute for attribute, constant for
    constant (an optimizer left out, or a pass lost, changes the operators)."""
    import os

    from adapters import tensorflow_tf2onnx as module

    cases = [c for c in CASES if module.TensorFlowTf2Onnx().supports(c) is None][::3]
    assert len(cases) >= 8 and {c.rank for c in cases} == {1, 2, 3}
    for case in cases:
        layer = module.graph_function(case)[0]
        fast = module._converted(layer)
        assert module._CATCH_ERRORS not in os.environ  # as it was
        mine, theirs = _beside_the_default(fast, layer)
        assert mine == theirs, case.full_id


def test_a_pass_that_raises_in_place_converts_as_tf2onnxs_default(monkeypatch) -> None:
    """Where a pass raises without the rollback, the conversion runs again as tf2onnx's default runs
    it (which rolls that pass back and goes on): the row gets the default's model."""
    import os

    import tf2onnx

    from adapters import tensorflow_tf2onnx as module

    optimize, calls = tf2onnx.optimizer.optimize_graph, []

    def fails_in_place(graph, catch_errors=True, optimizers=None):  # noqa: ANN001, ANN202 - tf2onnx's signature
        calls.append(catch_errors)
        if not catch_errors:
            raise RuntimeError("a pass that raised")
        return optimize(graph, catch_errors, optimizers)

    monkeypatch.setattr(tf2onnx.optimizer, "optimize_graph", fails_in_place)
    layer = module.graph_function(next(c for c in CASES if module.TensorFlowTf2Onnx().supports(c) is None))[0]
    model = module._converted(layer)
    assert calls == [False, True] and module._CATCH_ERRORS not in os.environ
    monkeypatch.setattr(tf2onnx.optimizer, "optimize_graph", optimize)
    mine, theirs = _beside_the_default(model, layer)
    assert mine == theirs
