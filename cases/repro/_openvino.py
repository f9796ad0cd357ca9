"""What the OpenVINO bfloat16 reproducers share: tensors written by their bits, and one inference with
the bf16 (or f32) precision hint read back as float32 (OpenVINO's Python API takes no ml_dtypes arrays)."""

import ml_dtypes
import numpy as np
import openvino as ov


def tensor(values, bf16: bool) -> ov.Tensor:
    """An OpenVINO tensor of the values: float32, or bfloat16 by its bits."""
    values = np.asarray(values, np.float32)
    if not bf16:
        return ov.Tensor(np.ascontiguousarray(values))
    made = ov.Tensor(ov.Type.bf16, ov.Shape(list(values.shape)))
    made.data.view(np.uint16)[...] = values.astype(ml_dtypes.bfloat16).view(np.uint16)
    return made


def infer(model: ov.Model, x, bf16: bool) -> np.ndarray:
    """The model's output for `x` on the CPU plugin, with the bf16 or f32 precision hint, as float32."""
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32"})
    request = compiled.create_infer_request()
    request.infer([tensor(x, bf16)])
    out = np.array(request.get_output_tensor(0).data, copy=True)
    return (out.view(ml_dtypes.bfloat16) if bf16 else out).astype(np.float32)
