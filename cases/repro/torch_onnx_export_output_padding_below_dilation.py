# tconv-repro: framework=onnxruntime versions=>=1.10
"""torch.onnx.export -> ONNX Runtime: a layer PyTorch computes becomes a model the runtime refuses.

`nn.ConvTranspose1d(1, 1, 2, stride=1, dilation=3, output_padding=1)` is valid PyTorch
(output_padding < max(stride, dilation)) and valid ONNX (the spec allows output_padding below
stride or dilation). The TorchScript exporter and the dynamo exporter both write output_padding=1
as is; ONNX Runtime fails with "output_padding (1) may be too large for stride (1)".

Exit status 1 while ONNX Runtime refuses a model of either exporter, 0 once both compute PyTorch's
answer.
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
options = ort.SessionOptions()
options.log_severity_level = 4
refused = False
for dynamo in (False, True):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(layer, (x,), dynamo=True, opset_version=18, verbose=False,
                                        input_names=["X"], output_names=["Y"])
            buffer.write(program.model_proto.SerializeToString())
        else:
            torch.onnx.export(layer, (x,), buffer, dynamo=False, opset_version=17, input_names=["X"],
                              output_names=["Y"])
    exporter = "dynamo" if dynamo else "TorchScript"
    try:
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        got = session.run(None, {"X": x.numpy()})[0]
    except Exception as error:  # noqa: BLE001
        print(f"torch {torch.__version__} ({exporter} exporter) -> onnxruntime {ort.__version__}: "
              f"{type(error).__name__}: {' '.join(str(error).split())[:200]}")
        refused = True
        continue
    print(f"{exporter}: computed", got.ravel(), "PyTorch:", want.ravel())
    refused |= not np.array_equal(got, want)
raise SystemExit(1 if refused else 0)
