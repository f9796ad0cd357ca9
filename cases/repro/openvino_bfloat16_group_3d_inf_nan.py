# tconv-repro: framework=openvino versions=>=2026.4 requires=avx512_bf16
"""OpenVINO's CPU plugin: a bfloat16 GroupConvolutionBackpropData in 3-D turns an inf result into NaN without
any dilation: the two one-channel groups of openvino_bfloat16_group_dilation_inf_nan.py (whose layer this
runs), x = [inf, 1.383] through one-tap weights [-0.594, 1.430] with dilations (1, 1, 1), give
[nan, 1.977] for [-inf, 1.977]; float32 is right. Found by `tconv fuzz --special` (both adapters)."""
import sys

from openvino_bfloat16_group_dilation_inf_nan import reproduces

sys.exit(1 if reproduces(3, 1) else 0)
