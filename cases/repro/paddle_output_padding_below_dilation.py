# tconv-repro: framework=paddle versions=>=2.6
"""Paddle conv_transpose: output_padding >= stride (but < dilation) passes Paddle's own check
(`output_padding < max(stride, dilation)`, conv_transpose InferMeta) and then fails in the CPU
kernel's col2im ("Output_height and padding(padding_up, padding_down) are inconsistent").

x = [1, 2, 3, 4], w = [1, -1], stride 1, dilation 3: the full result is x[i]*w[0] at i and
x[i]*w[1] at i + 3 (length 7); output_padding 1 appends one zero: length 8. PyTorch computes it.
Exit status 1 while Paddle refuses (or answers wrongly), 0 once it computes it.
"""

import os
import sys
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402

x = paddle.to_tensor(np.array([[[1, 2, 3, 4]]], np.float32))
w = paddle.to_tensor(np.array([[[1, -1]]], np.float32))
want = np.array([1, 2, 3, 3, -2, -3, -4, 0], np.float32)
try:
    got = paddle.nn.functional.conv1d_transpose(x, w, stride=1, dilation=3, output_padding=1).numpy().ravel()
except Exception as error:  # noqa: BLE001
    print(f"paddle {paddle.__version__}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
    sys.exit(1)
print(f"paddle {paddle.__version__}: {got} (want {want})")
sys.exit(0 if got.shape == want.shape and np.array_equal(got, want) else 1)
