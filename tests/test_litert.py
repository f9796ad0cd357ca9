"""The LiteRT paths convert the next cases' layers in one converter call and cut each one out
(`adapters.tflite_batch`): a cut model must be the layer's lone conversion in all that a row
sees of it (its operators, its input and output, LiteRT's answer bit for bit), and a layer the
converter refuses in a batch must be left to its own row."""

from __future__ import annotations

import importlib.util

import pytest

from harness import model_cache
from harness.casefile import load_cases
from tests.conftest import REPO

pytestmark = [pytest.mark.litert, pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("ai_edge_litert") is None,
    reason="needs TensorFlow (its TFLite converter) and ai-edge-litert")]

# Every 9th case of these files: ranks 1-3, strides, crops, output_padding, output_shape, bias or none.
FILES = ("shapes.yaml", "padding.yaml", "output_shape.yaml", "channels.yaml", "ranks.yaml")
CASES = load_cases([REPO / "cases" / f for f in FILES])[::9]


def _adapters() -> list:
    from adapters.litert import ADAPTERS

    return list(ADAPTERS)


def _seen(model: bytes) -> tuple:
    """What a row's interpreter sees of a model: its operators (builtin code and options, in order),
    the input and output tensors' names, shapes and types."""
    from tensorflow.lite.tools import flatbuffer_utils

    whole = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    graph = whole.subgraphs[0]
    codes = [whole.operatorCodes[op.opcodeIndex].builtinCode for op in graph.operators]
    options = [repr(vars(op.builtinOptions)) if op.builtinOptions is not None else None for op in graph.operators]

    def tensor(index: int) -> tuple:
        t = graph.tensors[index]
        return t.name, tuple(t.shape), t.type

    return codes, options, [tensor(i) for i in graph.inputs], [tensor(i) for i in graph.outputs]


@pytest.mark.parametrize("adapter", _adapters(), ids=lambda a: a.name)
def test_a_layer_cut_from_a_batched_conversion_is_its_lone_conversion(adapter, monkeypatch) -> None:  # noqa: ANN001
    from adapters import litert

    cases = [c for c in CASES if adapter.supports(c) is None]
    assert len(cases) >= 12 and {c.rank for c in cases} == {1, 2, 3} and any(c.bias is None for c in cases)
    lone: list[bytes] = []
    with model_cache.disabled():
        litert._PREPARED.clear()
        adapter.prepare(cases)
        assert len(litert._PREPARED) == len(cases)  # every one of these converts in a batch
        cut = dict(litert._PREPARED)
        litert._PREPARED.clear()
        monkeypatch.setattr(model_cache, "converted",  # the cache is off: each row converts alone, kept here
                            lambda name, case, convert, **kw: lone.append(convert()) or lone[-1])
        outputs = [adapter.run(case) for case in cases]  # nothing prepared now
    assert len(lone) == len(cases)
    for case, alone, output in zip(cases, lone, outputs, strict=True):
        extra = ()
        if adapter.name == "litert.keras_layer":
            from adapters.keras3 import layer_call, layer_extra

            x, padding, output_padding, _ = layer_call(case)
            extra = layer_extra(x, padding, output_padding)
        model = cut[model_cache.layer_key(adapter.name, case, extra)]
        assert _seen(model) == _seen(alone), case.full_id
        monkeypatch.setattr(model_cache, "converted", lambda name, case, convert, model=model, **kw: model)
        from_cut = adapter.run(case)
        assert from_cut.dtype == output.dtype and from_cut.tobytes() == output.tobytes(), case.full_id


def test_prepare_converts_ahead_and_a_refused_layer_is_left_to_its_row(monkeypatch) -> None:
    """`run` takes the cut models (no conversion left to do); a batch the converter refuses is
    halved around the refused layer, which its row converts alone."""
    from adapters import litert, tflite_batch
    from harness.runner import adapter_row

    adapter = litert.LiteRtTfNn()
    cases = [c for c in CASES if adapter.supports(c) is None][:6]
    refused = cases[3]
    real = tflite_batch.converted_together

    def together(functions, inputs, dtype):  # noqa: ANN001, ANN202 - the real converter, refusing one layer
        if refusing in functions:
            raise RuntimeError("cannot convert this one")
        return real(functions, inputs, dtype)

    from adapters import tensorflow_nn

    graph_function = tensorflow_nn.graph_function
    refusing = None

    def marking(case, **kwargs):  # noqa: ANN001, ANN202 - remembers the refused layer's function
        nonlocal refusing
        function, x, have = graph_function(case, **kwargs)
        if case is refused:
            refusing = function
        return function, x, have

    monkeypatch.setattr(tensorflow_nn, "graph_function", marking)
    monkeypatch.setattr(tflite_batch, "converted_together", together)
    with model_cache.disabled():
        litert._PREPARED.clear()
        adapter.prepare(cases)
        assert set(litert._PREPARED) == {model_cache.layer_key(adapter.name, c) for c in cases if c is not refused}
        converted_alone = []
        flatbuffer = litert._flatbuffer
        monkeypatch.setattr(litert, "_flatbuffer", lambda case: converted_alone.append(case) or flatbuffer(case))
        rows = [adapter_row(case, adapter) for case in cases]
    assert converted_alone == [refused] and not litert._PREPARED
    assert [r.status for r in rows] == ["pass"] * len(cases), [r.message for r in rows]
