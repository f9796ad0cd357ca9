"""Keras 3 on TensorFlow: `keras.layers.Conv{1,2,3}DTranspose` and `keras.ops.conv_transpose`.

Channels-last input, the `(k..., C_out, C_in)` kernel (loaded into the layer with
`set_weights`), one padding word (`valid`/`same`) and one `output_padding`. Keras' conventions
that differ from the canonical case are translated and said so here:
- Keras' `valid` without output_padding appends zeros when the stride exceeds the dilated kernel
  (`(in-1)*s + max(k_eff, s)`): its output is cropped.
- Keras' `same` with output_padding has its own size, `(in-1)*s + k_eff % 2 + output_padding`:
  that native form always runs; the canonical window is read from it where it covers it, and
  elsewhere Keras' own window is judged as it is (a convention difference, a known entry). Only
  where Keras refuses it (output_padding >= stride) does a `valid` run stand in, said so.
- `same_lower`, explicit crops and TF-style `output_shape` run as `valid` and are cropped.
Unsupported, with the reason: groups (Keras has none), `output_padding >= stride` (Keras
refuses it), and for the layer strides > 1 with dilation > 1 (the layer refuses it; the op does
not) and a zero extension when there is a bias (the extension's values would not be Keras').
"""

from __future__ import annotations

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.layout import from_channels_last, kernel_from_spatial_out_in, kernel_to_spatial_out_in, to_channels_last
from adapters.padding import (canonical_spans, covers, describe_reslice, full_sizes, keras_plan, needs_extension,
                              to_canonical_window, upstream_on_span)
from adapters.tensorflow_nn import tf_path
from harness.case import Case
from harness.dtypes import numpy_dtype


def _keras():
    keras = import_framework("keras")
    return keras


def _to_numpy(y, dtype: str) -> np.ndarray:
    array = np.asarray(_keras().ops.convert_to_numpy(y))
    if dtype == "bfloat16" and array.dtype.name == "bfloat16":
        return array.astype(numpy_dtype("bfloat16"))
    return array


def _covers(case: Case, spans) -> bool:
    """Whether Keras' window holds the canonical one (else the adapter cannot read it from it)."""
    return all(covers(h, w, f) for h, w, f in zip(spans, canonical_spans(case), full_sizes(case)))


class _Keras(Adapter):
    framework = "keras"

    def version(self) -> str:
        keras = _keras()
        return str(keras.__version__)

    def supports(self, case: Case) -> str | None:
        if case.groups > 1:
            return "Keras ConvTranspose layers and keras.ops.conv_transpose have no groups"
        if self.bias_inside and any(s > 1 for s in case.stride) and any(d > 1 for d in case.dilation):
            return "Keras' ConvTranspose layers refuse strides > 1 together with dilation_rate > 1"
        if _keras().backend.backend() != "tensorflow":
            return f"Keras runs on {_keras().backend.backend()}, tconv tests Keras on TensorFlow"
        plan = keras_plan(case, canonical_spans(case))
        if plan is None:
            return "Keras cannot cover this window: output_padding >= stride is refused by Keras"
        if (self.bias_inside and case.bias is not None and _covers(case, plan[2])
                and needs_extension(plan[2], canonical_spans(case))):
            return ("the window needs zero extension past Keras' output, whose bias the layer would add; "
                    "Keras has no padding that yields it")
        return None

    bias_inside = True

    def translation(self, case: Case) -> str | None:
        wants = canonical_spans(case)
        plan = keras_plan(case, wants)
        if plan is None or plan[2] == list(wants):
            return None
        padding, output_padding, spans = plan
        if not _covers(case, spans):
            return (f"ran Keras' own padding='{padding}', output_padding={output_padding}, whose window "
                    f"{[(s.start, s.stop) for s in spans]} is not the canonical {[(w.start, w.stop) for w in wants]}: "
                    "Keras' output is judged as it is")
        dilated = [(k - 1) * d + 1 for k, d in zip(case.kernel_size, case.dilation)]
        word = case.padding_word
        if word == "valid" and not any(case.output_padding) and any(s > k for s, k in zip(case.stride, dilated)):
            why = "Keras' valid appends zeros when the stride exceeds the dilated kernel"
        elif any(op >= s for op, s in zip(case.output_padding, case.stride)):
            why = "Keras refuses output_padding >= stride (its own form), so the window is read from another run"
        elif word in ("same", "same_upper") and any(case.output_padding):
            why = "Keras' same with output_padding has its own size, (in-1)*stride + k_eff % 2 + output_padding"
        elif case.output_shape is not None:
            why = "Keras takes no output_shape"
        elif word == "same_lower":
            why = "Keras has no same_lower"
        elif word is None:
            why = "Keras has no explicit crops"
        else:
            why = "Keras' window differs"
        return (f"{why}: ran padding='{padding}', output_padding={output_padding}, "
                f"then {describe_reslice(spans, wants)}")

    def compute(self, case: Case, x: object, padding: str, output_padding, watch=lambda tensor: None) -> object:
        """Keras' result; `watch` sees each tensor gradients are taken for, before it is used."""
        raise NotImplementedError

    def parameters(self) -> list[object]:
        """The tensors of the last `compute` that gradients are taken with respect to:
        the kernel (Keras' `(*k, C_out, C_in)`) and, for the layer, its bias."""
        return self._parameters

    def gradient_translation(self, case: Case, check: str) -> str | None:
        if check == "grad_bias" and not self.bias_inside:
            return "keras.ops.conv_transpose takes no bias: it is added by keras.ops.add, so grad_bias is that op's gradient"
        return None

    def gradient_support(self, case: Case) -> str | None:
        plan = keras_plan(case, canonical_spans(case))
        if plan is not None and not _covers(case, plan[2]):
            return "Keras' own window is not the canonical one here (see the forward row): no gradient to compare"
        return None

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`tf.GradientTape` (Keras on TensorFlow) over the layer or op, the upstream gradient
        placed on Keras' output (channels-last); a bias added by `keras.ops.add` through the tape too."""
        tf = import_framework("tensorflow")
        ops = _keras().ops
        wants = canonical_spans(case)
        padding, output_padding, spans = keras_plan(case, wants)
        x = tf.constant(to_channels_last(case.input).astype(numpy_dtype(case.dtype)))
        g = to_channels_last(upstream_on_span(case.upstream, wants, spans)).astype(numpy_dtype(case.dtype))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = self.compute(case, x, padding, output_padding, watch=tape.watch)
            watched = [x, *self.parameters()]
        found = tape.gradient(y, watched, output_gradients=tf.constant(g))
        grads = {"grad_input": from_channels_last(_to_numpy(found[0], case.dtype)),
                 "grad_weight": kernel_from_spatial_out_in(_to_numpy(found[1], case.dtype))}
        if case.bias is not None and self.bias_inside:
            grads["grad_bias"] = _to_numpy(found[2], case.dtype)
        elif case.bias is not None:
            b = tf.constant(case.bias.astype(numpy_dtype(case.dtype)))
            upstream = tf.constant(to_channels_last(case.upstream).astype(numpy_dtype(case.dtype)))
            with tf.GradientTape() as tape:
                tape.watch(b)
                y = ops.add(tf.zeros_like(upstream), b)
            grads["grad_bias"] = _to_numpy(tape.gradient(y, b, output_gradients=upstream), case.dtype)
        return grads

    def sent(self, case: Case) -> dict[str, str]:
        plan = keras_plan(case, canonical_spans(case))
        if plan is None:
            return {}
        window = "exact" if plan[2] == list(canonical_spans(case)) else "cropped" if _covers(case, plan[2]) else "mismatch"
        return {"padding": plan[0], "output_padding": str(plan[1]), "window": window}

    def path(self, case: Case) -> str:
        """Keras on TensorFlow calls tf.nn.conv_transpose with SAME or VALID: TensorFlow's path."""
        return tf_path(case.dtype, explicit_padding=False)

    def run(self, case: Case) -> np.ndarray:
        x, padding, output_padding, spans = layer_call(case)
        y = self.compute(case, x, padding, output_padding)
        y = from_channels_last(_to_numpy(y, case.dtype))
        if not _covers(case, spans):
            return y  # Keras' own window, not the canonical one: judged as it is (see translation)
        y = to_canonical_window(y, spans, case)
        if not self.bias_inside and case.bias is not None:
            # Added channels-last, as a (C_out,) vector: see docs/findings.md for what keras.ops.add
            # does to a (C_out, 1, 1) bias on a channels-first tensor whose last size is C_out.
            ops = _keras().ops
            bias = ops.convert_to_tensor(case.bias.astype(numpy_dtype(case.dtype)))
            y = from_channels_last(_to_numpy(ops.add(ops.convert_to_tensor(to_channels_last(y)), bias), case.dtype))
        return y


class KerasLayer(_Keras):
    """`keras.layers.Conv{1,2,3}DTranspose`, weights set with `set_weights`."""

    name = "keras.layer"

    def compute(self, case: Case, x: object, padding: str, output_padding, watch=lambda tensor: None) -> object:
        layer = built_layer(case, x.shape, padding, output_padding)
        self._parameters = [v.value for v in ([layer.kernel] + ([layer.bias] if case.bias is not None else []))]
        for variable in self._parameters:
            watch(variable)
        return layer(x)


def built_layer(case: Case, input_shape, padding: str, output_padding):
    """`keras.layers.Conv{1,2,3}DTranspose` built for a channels-last input of `input_shape`, the
    case's kernel and bias set with `set_weights` (also what the TFLite conversion path converts)."""
    keras = _keras()
    layer_class = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
                   3: keras.layers.Conv3DTranspose}[case.rank]
    # Named, not numbered by Keras' counter: a message that names the layer (a converter's node) is the
    # same whatever layers the process built before.
    layer = layer_class(
        filters=case.out_channels, kernel_size=case.kernel_size, strides=case.stride, padding=padding,
        output_padding=output_padding, dilation_rate=case.dilation, use_bias=case.bias is not None,
        dtype=case.dtype, name=f"conv{case.rank}d_transpose",
    )
    layer.build(tuple(input_shape))
    weights = [kernel_to_spatial_out_in(case.kernel).astype(numpy_dtype(case.dtype))]
    if case.bias is not None:
        weights.append(case.bias.astype(numpy_dtype(case.dtype)))
    layer.set_weights(weights)
    return layer


def layer_call(case: Case) -> tuple[np.ndarray, str, object, list]:
    """What the Keras adapters give Keras for a case they support: the channels-last input in the
    case's dtype, the padding word and output_padding of `keras_plan`, and the spans of the result."""
    plan = keras_plan(case, canonical_spans(case))
    assert plan is not None
    padding, output_padding, spans = plan
    return to_channels_last(case.input).astype(numpy_dtype(case.dtype)), padding, output_padding, spans


def traced_layer(case: Case, x: np.ndarray, padding: str, output_padding):  # noqa: ANN201 - a tf.function
    """`built_layer` as a `tf.function` of a fixed input signature: what a converter of TensorFlow
    functions (the TFLite converter, tf2onnx) takes of a Keras 3 layer on TensorFlow."""
    tf = import_framework("tensorflow")
    layer = built_layer(case, x.shape, padding, output_padding)

    @tf.function(input_signature=[tf.TensorSpec(x.shape, getattr(tf, case.dtype))], autograph=False)  # a call, no control flow
    def model(inputs):  # noqa: ANN001, ANN202
        return layer(inputs)

    return model


def layer_extra(x: np.ndarray, padding: str, output_padding) -> tuple[object, ...]:  # noqa: ANN001
    """What a converted `traced_layer` depends on beyond the case (`harness.model_cache`'s key):
    the padding word, the output_padding and the input signature Keras was given."""
    return (padding, output_padding, tuple(np.shape(x)), np.asarray(x).dtype.str)


class KerasOps(_Keras):
    """`keras.ops.conv_transpose` (no bias: added with `keras.ops.add`)."""

    name = "keras.ops"
    bias_inside = False

    def compute(self, case: Case, x: object, padding: str, output_padding, watch=lambda tensor: None) -> object:
        ops = _keras().ops
        kernel = ops.convert_to_tensor(kernel_to_spatial_out_in(case.kernel).astype(numpy_dtype(case.dtype)))
        watch(kernel)
        self._parameters = [kernel]
        return ops.conv_transpose(ops.convert_to_tensor(x), kernel, strides=case.stride,
                                  padding=padding, output_padding=output_padding, dilation_rate=case.dilation)


ADAPTERS = (KerasLayer(), KerasOps())
