# tconv-repro: framework=paddle versions=>=3.0
"""Paddle conv1d_transpose: the gradients of a call whose own output is empty raise an internal error.

Found by `tconv fuzz --special` (seed 81; both Paddle adapters). x = [0.5], w = [2] (one tap), padding
[1, 0]: the full result has one position and the padding crops it, so the forward result is (1, 1, 0),
which Paddle returns (tconv's adapters then place it in the canonical window, e.g. a same_lower layer
with output_padding). Its backward, the gradients of that empty result (zeros of the input's and
kernel's shapes), raises "(InvalidArgument) Right now Resize is only supported for contiguous Tensor.
Tensor dims is 1, 1, 0, 1 ..." in Conv2dTransposeGradNode (conv1d_transpose runs as a 2-D op). The
same layer in 2-D (conv2d_transpose, padding [1, 0, 0, 0]) returns its gradients.

Exit status 1 while the backward raises.
"""

import os
import sys
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402

x = paddle.to_tensor(np.array([[[0.5]]], np.float32), stop_gradient=False)
w = paddle.to_tensor(np.array([[[2.0]]], np.float32), stop_gradient=False)
y = paddle.nn.functional.conv1d_transpose(x, w, padding=[1, 0])
try:
    y.sum().backward()
except Exception as error:  # noqa: BLE001 - the finding
    print(f"paddle {paddle.__version__}: forward {list(y.shape)}; backward: {type(error).__name__}: "
          f"{' '.join(str(error).split())[:160]}")
    sys.exit(1)
print(f"paddle {paddle.__version__}: forward {list(y.shape)}; gradients {x.grad.numpy().tolist()}, {w.grad.numpy().tolist()}")
sys.exit(0)
