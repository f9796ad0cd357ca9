# tconv-repro: framework=paddle versions=>=2.6
"""Paddle conv3d_transpose: output_padding >= stride (but < dilation) along the depth passes Paddle's own
check and then fails in the CPU kernel's vol2col ("input_depth(5) and output_depth(4) are mismatching";
found by `tconv fuzz`), as im2col does in 1-D (paddle_output_padding_below_dilation.py, whose data
this runs along the depth: dilation (3, 1, 1), output_padding (1, 0, 0)). Exit status 1 while it does.
"""
import sys

from paddle_output_padding_below_dilation import reproduces

sys.exit(1 if reproduces("conv3d_transpose") else 0)
