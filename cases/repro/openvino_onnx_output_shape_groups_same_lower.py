# tconv-repro: framework=openvino versions=>=2026.4
"""OpenVINO's ONNX front end: ConvTranspose with output_shape, auto_pad SAME_LOWER and group > 1 crops the
whole total padding at the end, as with NOTSET (openvino_onnx_output_shape_groups.py, whose layer and
data this runs); ONNX's SAME_LOWER puts total - total // 2 at the start. Found by `tconv fuzz`."""
import sys

from openvino_onnx_output_shape_groups import reproduces

sys.exit(1 if reproduces("SAME_LOWER") else 0)
