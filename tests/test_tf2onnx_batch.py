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
