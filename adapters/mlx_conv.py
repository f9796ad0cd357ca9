"""MLX: `mlx.core.conv_transpose{1,2,3}d` on the CPU (the `mlx[cpu]` build on Linux).

MLX is channels-last: the input goes `(N, *spatial, C_in)` and the weight `(C_out, *k, C_in)`,
the canonical kernel with its channel axes moved and no flip (checked against the oracle). Its
`padding` crops symmetrically and `output_padding` adds positions at the end, as PyTorch's do, so
the padding plan is PyTorch's (`adapters.padding.torch_plan`): asymmetric crops, `same`,
`same_lower` and `output_shape` windows run with the nearest symmetric padding and the adapter
crops the rest (stated in the row). MLX takes no bias: it is added with `mx.add` after the call.
Groups other than 1 are not supported by MLX ("Only the default groups=1 is currently
supported"). Gradients: `mx.vjp` of the call, the bias through `mx.vjp` of the add.
"""

from __future__ import annotations

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.layout import from_channels_last, to_channels_last
from adapters.padding import (needs_extension, symmetric_plans, symmetric_translation, to_canonical_window,
                              upstream_on_span)
from harness.case import Case
from harness.dtypes import numpy_dtype


def _mx():
    return import_framework("mlx.core")


def _array(values: np.ndarray, dtype: str):
    """A float64 array of dtype-exact values -> an MLX array of that dtype (exact)."""
    mx = _mx()
    # dtype given to mx.array itself: without it MLX stores a float64 NumPy array as float32
    return mx.array(np.asarray(values, dtype=np.float64), dtype=getattr(mx, dtype))


def _to_numpy(y, dtype: str) -> np.ndarray:
    """An MLX array -> NumPy in the same dtype (bfloat16 through float32, exactly)."""
    mx = _mx()
    if dtype == "bfloat16":
        return np.array(y.astype(mx.float32)).astype(numpy_dtype("bfloat16"))
    return np.array(y)


def weight_layout(kernel: np.ndarray) -> np.ndarray:
    """Canonical `(C_in, C_out, *k)` -> MLX's `(C_out, *k, C_in)` (axes moved, no flip)."""
    return np.ascontiguousarray(np.moveaxis(kernel, (0, 1), (-1, 0)))


def weight_from_layout(weight: np.ndarray) -> np.ndarray:
    """MLX's `(C_out, *k, C_in)` -> canonical `(C_in, C_out, *k)` (the inverse, for grad_weight)."""
    return np.ascontiguousarray(np.moveaxis(weight, (-1, 0), (0, 1)))


_plans = symmetric_plans  # per dim: MLX padding and output_padding (PyTorch's rule), MLX's span; the wanted spans


def _placed(y: np.ndarray, case: Case, plans) -> np.ndarray:
    """MLX's result cropped to the canonical window. A result whose length is not the one its own
    padding and output_padding give (MLX's too-short results) cannot be placed in that window:
    it is an error that names both shapes, not NumPy's failure to broadcast inside the crop."""
    lengths = [p[2].length for p in plans]
    if list(y.shape[2:]) != lengths:
        raise ValueError(f"shape {tuple(y.shape)} from MLX, where its padding {[p[0] for p in plans]} and "
                         f"output_padding {[p[1] for p in plans]} give spatial {tuple(lengths)}")
    return to_canonical_window(y, [p[2] for p in plans], case)


class MlxConvTranspose(Adapter):
    name = "mlx.conv_transpose"
    framework = "mlx"

    def supports(self, case: Case) -> str | None:
        if 0 in case.input.shape or 0 in case.kernel.shape:
            return ("MLX kills the process on empty tensors (SIGFPE with zero input channels and some empty "
                    "batches, a silent exit with zero output channels: cases/repro/mlx_conv_transpose.py), "
                    "so they are not run in-process")
        if case.groups > 1:
            return "MLX's conv_transpose supports only groups=1 (its documentation and its error say so)"
        plans, wants = _plans(case)
        if case.bias is not None and needs_extension([p[2] for p in plans], wants):
            return ("the window runs past what MLX's output_padding (< max(stride, dilation)) reaches, and the "
                    "bias added after the call would miss the zeros appended there")
        return None

    def sent(self, case: Case) -> dict[str, str]:
        plans, _ = _plans(case)
        return {"padding": str(tuple(p[0] for p in plans)), "output_padding": str(tuple(p[1] for p in plans))}

    def translation(self, case: Case) -> str | None:
        return symmetric_translation("MLX", *_plans(case))

    def gradient_translation(self, case: Case, check: str) -> str | None:
        if check == "grad_bias":
            return "MLX's conv_transpose takes no bias: it is added by mx.add, so grad_bias is that op's gradient"
        return None

    def conv(self, case: Case, x, w, plans):
        """MLX's result (channels-last, before the adapter's crop) for the arrays x and w."""
        mx = _mx()
        function = {1: mx.conv_transpose1d, 2: mx.conv_transpose2d, 3: mx.conv_transpose3d}[case.rank]
        scalar = case.rank == 1  # MLX's 1-D form takes ints, the others tuples

        def arg(values):
            return values[0] if scalar else tuple(values)

        return function(x, w, stride=arg(case.stride), padding=arg([p[0] for p in plans]),
                        dilation=arg(case.dilation), output_padding=arg([p[1] for p in plans]))

    def run(self, case: Case) -> np.ndarray:
        mx = _mx()
        plans, _ = _plans(case)
        y = self.conv(case, _array(to_channels_last(case.input), case.dtype),
                      _array(weight_layout(case.kernel), case.dtype), plans)
        if case.bias is not None:
            y = mx.add(y, _array(case.bias, case.dtype))
        mx.eval(y)
        return _placed(from_channels_last(_to_numpy(y, case.dtype)), case, plans)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """`mx.vjp` of the call, the upstream gradient placed on MLX's output (channels-last)."""
        mx = _mx()
        plans, wants = _plans(case)
        g = to_channels_last(upstream_on_span(case.upstream, wants, [p[2] for p in plans]))
        _, (grad_x, grad_w) = mx.vjp(lambda x, w: self.conv(case, x, w, plans),
                                     [_array(to_channels_last(case.input), case.dtype),
                                      _array(weight_layout(case.kernel), case.dtype)], [_array(g, case.dtype)])
        grads = {"grad_input": from_channels_last(_to_numpy(grad_x, case.dtype)),
                 "grad_weight": weight_from_layout(_to_numpy(grad_w, case.dtype))}
        if case.bias is not None:
            upstream = _array(to_channels_last(case.upstream), case.dtype)
            _, (grad_b,) = mx.vjp(lambda b: mx.add(mx.zeros(upstream.shape, dtype=b.dtype), b),
                                  [_array(case.bias, case.dtype)], [upstream])
            grads["grad_bias"] = _to_numpy(grad_b, case.dtype)
        return grads


ADAPTERS = (MlxConvTranspose(),)
