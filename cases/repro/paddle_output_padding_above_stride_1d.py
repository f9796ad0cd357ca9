# tconv-repro: framework=paddle versions=>=2.6
"""Paddle conv1d_transpose refuses an output_padding above the stride that is below the dilation (2 with
stride 1 and dilation 3, valid by Paddle's own conv_transpose rule, output_padding < max(stride, dilation),
and by PyTorch's): its Python wrapper checks `output_padding > stride` first ("The size of output_padding
should not be greater than stride"). conv2d_transpose and conv3d_transpose have no such check. Found by
`tconv fuzz`; the data of paddle_output_padding_below_dilation.py, whose `reproduces` this runs. Exit
status 1 while Paddle refuses (or answers wrongly) the layer.
"""
import sys

from paddle_output_padding_below_dilation import reproduces

sys.exit(1 if reproduces("conv1d_transpose beyond the stride") else 0)
