# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's CPU plugin cannot compile ConvolutionBackpropData with C_in = 0 or C_out = 0 ("could not
create a primitive descriptor for the deconvolution forward propagation primitive"), although the op's
shape rule gives a valid output: zeros for C_in = 0, an empty tensor for C_out = 0 (N = 0 works)."""
import sys

import numpy as np
import openvino as ov
import openvino.opset16 as ops

core = ov.Core()
bad = False
for c_in, c_out in ((0, 2), (2, 0)):
    x = ops.parameter([1, c_in, 3, 3], ov.Type.f32, name="X")
    w = ops.constant(np.ones((c_in, c_out, 2, 2), np.float32))
    model = ov.Model([ops.convolution_backprop_data(x, w, [1, 1])], [x])
    try:
        y = core.compile_model(model, "CPU")({"X": np.ones((1, c_in, 3, 3), np.float32)})[0]
        ok = y.shape == (1, c_out, 4, 4) and not y.any()
        print(f"C_in={c_in}, C_out={c_out}: shape {y.shape}, {'right' if ok else 'WRONG'}")
        bad |= not ok
    except RuntimeError as error:
        print(f"C_in={c_in}, C_out={c_out}:", " ".join(str(error).split())[-160:])
        bad = True
sys.exit(1 if bad else 0)
