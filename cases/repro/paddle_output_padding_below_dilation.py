# tconv-repro: framework=paddle versions=>=2.6
"""Paddle conv_transpose: output_padding >= stride (but < dilation) passes Paddle's own check
(`output_padding < max(stride, dilation)`, conv_transpose InferMeta) and then fails in the CPU
kernel's col2im ("Output_height and padding(padding_up, padding_down) are inconsistent"); in 3-D
its vol2col ("input_depth(5) and output_depth(4) are mismatching", found by `tconv fuzz`).

x = [1, 2, 3, 4], w = [1, -1], stride 1, dilation 3: the full result is x[i]*w[0] at i and
x[i]*w[1] at i + 3 (length 7); output_padding 1 appends one zero: length 8. PyTorch computes it.
Exit status 1 while Paddle refuses (or answers wrongly) the 1-D layer, 0 once it computes it. The same
data along the depth of conv3d_transpose is its own known entry and script (a fix of one is seen):
paddle_output_padding_below_dilation_3d.py, which runs `reproduces` here. An output_padding above the
stride (2 with stride 1, still below the dilation) conv1d_transpose refuses in Python before its kernel
("The size of output_padding should not be greater than stride", found by `tconv fuzz`; conv2d_transpose
and conv3d_transpose take it to their kernels): paddle_output_padding_above_stride_1d.py.
"""

import os
import sys
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402

want = np.array([1, 2, 3, 3, -2, -3, -4, 0], np.float32)
layers = {
    "conv1d_transpose": lambda: paddle.nn.functional.conv1d_transpose(
        paddle.to_tensor(np.array([[[1, 2, 3, 4]]], np.float32)), paddle.to_tensor(np.array([[[1, -1]]], np.float32)),
        stride=1, dilation=3, output_padding=1),
    "conv3d_transpose": lambda: paddle.nn.functional.conv3d_transpose(
        paddle.to_tensor(np.array([1, 2, 3, 4], np.float32).reshape(1, 1, 4, 1, 1)),
        paddle.to_tensor(np.array([1, -1], np.float32).reshape(1, 1, 2, 1, 1)),
        stride=1, dilation=(3, 1, 1), output_padding=(1, 0, 0)),
    # output_padding 2 > stride 1 (< dilation 3): PyTorch's length 9, the last two positions zeros
    "conv1d_transpose beyond the stride": lambda: paddle.nn.functional.conv1d_transpose(
        paddle.to_tensor(np.array([[[1, 2, 3, 4]]], np.float32)), paddle.to_tensor(np.array([[[1, -1]]], np.float32)),
        stride=1, dilation=3, output_padding=2),
}
WANT = {"conv1d_transpose beyond the stride": np.append(want, 0).astype(np.float32)}


def reproduces(name: str) -> bool:
    """Whether Paddle refuses the layer, or answers other than PyTorch."""
    try:
        got = layers[name]().numpy().ravel()
    except Exception as error:  # noqa: BLE001
        print(f"paddle {paddle.__version__} {name}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
        return True
    expected = WANT.get(name, want)
    print(f"paddle {paddle.__version__} {name}: {got} (want {expected})")
    return not (got.shape == expected.shape and np.array_equal(got, expected))


if __name__ == "__main__":
    sys.exit(1 if reproduces("conv1d_transpose") else 0)
