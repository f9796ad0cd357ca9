# tconv-repro: framework=litert versions=>=1.0
"""LiteRT's inf weight, which the TFLite converter made FLT_MAX (litert_inf_weight.py, whose layer this
runs), times an input of 0: NaN by the definition and in TensorFlow (0 * inf), 0 in LiteRT. Found by
`tconv fuzz --special` on a 3-D layer whose kernel held an inf and whose integer input held zeros."""
import sys

from litert_inf_weight import reproduces

sys.exit(1 if reproduces(0.0) else 0)
