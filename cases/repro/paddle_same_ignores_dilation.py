# tconv-repro: framework=paddle versions=>=2.6
"""Paddle's padding="SAME" silently sets the dilation to 1 (UpdatePaddingAndDilation), in
conv1d/2d/3d and their transposes: the dilated kernel is never applied.

conv1d_transpose(x=[1, 2, 3], w=[1, 0, -1], dilation=2, padding="SAME"): the dilated kernel has
taps at 0, 2, 4 (length 5), the full result is x[i] at i and -x[i] at i + 4,
[1, 2, 3, 0, -1, -2, -3]; SAME (TensorFlow's rule, output length 3) keeps the middle 3:
[3, 0, -1]. Paddle returns [2, 2, -2], the undilated kernel's SAME result.
Exit status 1 while Paddle ignores the dilation, 0 once it applies it.
"""

import os
import sys
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402

x = paddle.to_tensor(np.array([[[1, 2, 3]]], np.float32))
w = paddle.to_tensor(np.array([[[1, 0, -1]]], np.float32))
want = np.array([3, 0, -1], np.float32)
got = paddle.nn.functional.conv1d_transpose(x, w, padding="SAME", dilation=2).numpy().ravel()
undilated = paddle.nn.functional.conv1d_transpose(x, w, padding="SAME", dilation=1).numpy().ravel()
print(f"paddle {paddle.__version__}: SAME dilation=2 gives {got}, want {want} (dilation=1 gives {undilated})")
sys.exit(0 if np.array_equal(got, want) else 1)
