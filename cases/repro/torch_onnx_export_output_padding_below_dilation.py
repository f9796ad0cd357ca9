# tconv-repro: framework=onnxruntime versions=>=1.10
"""torch.onnx.export -> ONNX Runtime: a layer PyTorch computes becomes a model the runtime refuses.

`nn.ConvTranspose1d(1, 1, 2, stride=1, dilation=3, output_padding=1)` is valid PyTorch
(output_padding < max(stride, dilation)) and valid ONNX (the spec allows output_padding below
stride or dilation). The TorchScript exporter writes output_padding=1 as is; ONNX Runtime fails
with "output_padding (1) may be too large for stride (1)".

Exit status 1 while ONNX Runtime refuses the exported model, 0 once it computes PyTorch's answer.
"""

import io
import warnings

import numpy as np
import onnxruntime as ort
import torch

layer = torch.nn.ConvTranspose1d(1, 1, 2, stride=1, dilation=3, output_padding=1, bias=False)
with torch.no_grad():
    layer.weight.copy_(torch.tensor([[[1.0, -1.0]]]))
x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
want = layer(x).detach().numpy()  # [1, 2, 3, 3, -2, -3, -4, 0]
buffer = io.BytesIO()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(layer, (x,), buffer, dynamo=False, opset_version=17, input_names=["X"], output_names=["Y"])
options = ort.SessionOptions()
options.log_severity_level = 4
try:
    got = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"]).run(None, {"X": x.numpy()})[0]
except Exception as error:  # noqa: BLE001
    print(f"torch {torch.__version__} -> onnxruntime {ort.__version__}: {type(error).__name__}: "
          f"{' '.join(str(error).split())[:200]}")
    raise SystemExit(1)
print("computed:", got.ravel(), "PyTorch:", want.ravel())
raise SystemExit(0 if np.array_equal(got, want) else 1)
