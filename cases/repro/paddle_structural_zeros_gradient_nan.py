# tconv-repro: framework=paddle versions=>=3.0
"""Paddle's gradients of conv1d_transpose multiply the cropped positions' zero upstream gradient.

Found by tconv's cases `nonfinite.yaml::inf-*-on-a-cropped-position-gradients`. A 1-D transposed
convolution, padding 1: x = [0.5, 1] with w = [inf, -0.5, 2] has the input gradient (upstream
gradient of ones) x0: w[1] + w[2] = 1.5, since x0's inf tap lands on the cropped position 0, which
has no upstream gradient; Paddle gives NaN (inf * 0). Likewise x = [inf, 1] with w = [1, 2, 3]: the
weight gradient of tap 0 is x1 = 1 (x0 meets only the cropped position through it); Paddle gives NaN.
A convention difference (JAX and TensorFlow too: structural_zeros_gradient_nan.py).

Exit status 1 while either gradient is NaN.
"""

import os
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402


def gradients(x, w):
    x, w = paddle.to_tensor(np.array(x, np.float32), stop_gradient=False), paddle.to_tensor(np.array(w, np.float32),
                                                                                            stop_gradient=False)
    paddle.nn.functional.conv1d_transpose(x, w, padding=1).sum().backward()
    return x.grad.numpy().ravel(), w.grad.numpy().ravel()


grad_input, _ = gradients([[[0.5, 1.0]]], [[[np.inf, -0.5, 2.0]]])
_, grad_weight = gradients([[[np.inf, 1.0]]], [[[1.0, 2.0, 3.0]]])
print(f"paddle {paddle.__version__}: grad_input = {grad_input.tolist()} (definition: [1.5, inf]), "
      f"grad_weight = {grad_weight.tolist()} (definition: [1, inf, inf])")
raise SystemExit(1 if np.isnan(grad_input).any() or np.isnan(grad_weight).any() else 0)
