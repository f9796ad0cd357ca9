"""Models converted ahead from TensorFlow functions, kept for the rows that will run them.

The converters of TensorFlow functions (the TFLite converter, tf2onnx) spend most of a small
layer's conversion on fixed work, so the conversion paths' `prepare` converts the next cases'
layers side by side in one call and cuts each one out (`adapters.tflite_batch`,
`adapters.tensorflow_tf2onnx._converted_together`). This is what those paths share: which
layers are worth converting ahead, the batches per dtype halved around a layer the converter
refuses (that layer's row converts it alone and says why), and a row taking its model once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from adapters.base import in_halves
from harness import model_cache
from harness.case import Case

# (traced functions, their inputs, the dtype) -> one model's bytes per function
Together = Callable[[list[Callable], list[np.ndarray], str], list[bytes]]


def batchable(x: np.ndarray, case: Case) -> bool:
    """A layer converted with others: no empty tensor (the converters' handling of those is a
    finding of its own; its row converts it alone)."""
    return all(a is None or a.size > 0 for a in (x, case.kernel, case.bias))


class Prepared(dict):
    """layer_key -> the model `prepare` converted for a row still to run (a row takes its own once)."""

    def __init__(self, together: Together) -> None:
        super().__init__()
        self.together = together

    def model(self, adapter: str, case: Case, alone: Callable[[], bytes], *, extra: Iterable[object] = ()) -> bytes:
        """The layer's model as a row runs it: the model cache's (`extra` as its key takes it), else the
        one converted ahead (taken once), else `alone()`. The key is asked only when the cache has none."""
        return model_cache.converted(adapter, case, lambda: self.pop(model_cache.layer_key(adapter, case, extra), None)
                                     or alone(), extra=extra)

    def convert_ahead(self, adapter: str, layers: Iterable[tuple[Case, str, Callable[[], tuple]]]) -> None:
        """Convert the layers (case, key, a maker of its traced function and input) that no row
        has yet and the model cache does not keep, one batch per dtype."""
        todo: dict[str, dict[str, tuple[Callable, np.ndarray]]] = {}
        for case, key, traced in layers:
            if key in self or model_cache.kept(adapter, key):
                continue
            function, x = traced()
            if batchable(x, case):
                todo.setdefault(case.dtype, {})[key] = (function, x)
        for dtype, batch in todo.items():
            def together(part: Sequence[tuple[Callable, np.ndarray]], dtype: str = dtype) -> list[bytes]:
                return self.together([f for f, _ in part], [x for _, x in part], dtype)

            models = in_halves(list(batch.values()), together)
            self.update({key: models[i] for i, key in enumerate(batch) if i in models})


def graph_layers(adapter, cases: Sequence[Case], **graph_options: bool) -> list[tuple[Case, str, Callable]]:  # noqa: ANN001
    """The `tf.nn` graphs a conversion path would convert for these cases (those it supports):
    the case, its model-cache key, and a maker of the graph (`graph_function(case, **graph_options)`)
    and its input."""
    from adapters.tensorflow_nn import graph_function

    return [(case, model_cache.layer_key(adapter.name, case),
             lambda case=case: graph_function(case, **graph_options)[:2])
            for case in cases if adapter.supports(case) is None]


def keras_layers(adapter, cases: Sequence[Case]) -> list[tuple[Case, str, Callable]]:  # noqa: ANN001 - a KerasLayer
    """The layers a Keras conversion path would convert for these cases (those it supports): the
    case, its model-cache key, and a maker of the traced layer and its input."""
    from adapters.keras3 import layer_call, layer_extra, traced_layer

    layers = []
    for case in cases:
        if adapter.supports(case) is None:
            x, padding, output_padding, _ = layer_call(case)
            key = model_cache.layer_key(adapter.name, case, layer_extra(x, padding, output_padding))

            def traced(case: Case = case, x: np.ndarray = x, padding: str = padding,
                       output_padding: object = output_padding) -> tuple:
                return traced_layer(case, x, padding, output_padding), x

            layers.append((case, key, traced))
    return layers
