"""A conversion path: tconv's one-node ONNX `ConvTranspose` model converted by onnx2tf and run in
TensorFlow.

The model is the one `onnxruntime.cpu` and `onnx.reference` run (`adapters.onnx_model`: canonical
layouts, the case's padding as `pads`/`auto_pad`/`output_padding`/`output_shape`), with W and B
as initializers instead of inputs: a converter reads weights from constants, as they are in a
shipped model. `onnx2tf.convert(onnx_graph=...)` rebuilds it as a tf_keras model
(`tf.nn.convNd_transpose` with TF's VALID/SAME, a slice for the pads, `tf.add` for the bias), and
the row is that model's result in TensorFlow (eager call; not the TFLite file onnx2tf can also
write: `disable_model_save=True` skips writing it), so it judges onnx2tf's translation of ONNX's
attributes into TF's, and TensorFlow's kernel. onnxsim is not run (`not_use_onnxsim=True`): it has
nothing to simplify in one node, and it runs as three subprocesses per model.

Layout: onnx2tf turns NCHW inputs into NHWC by default; the adapter keeps the input channels-first
(`keep_ncw_or_nchw_or_ncdhw_input_names=["X"]`: onnx2tf transposes inside the model), and the
output comes back channels-last (the converted model says so in `onnx_output_layouts`), which the
adapter moves back (`_canonical_output`). Each row's translation says so.

onnx2tf, tf_keras and its pinned onnx/numpy cannot share the main environment: this adapter
`requires` onnx2tf and runs in `tox -e onnx2tf`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from adapters.base import import_framework, probe_error
from adapters.layout import from_channels_last
from adapters.onnx_model import OnnxModelAdapter
from harness.case import Case

_KEEP_NCHW = ["X"]


def with_constant_weights(model: Any, inputs: dict[str, np.ndarray]) -> Any:
    """The model with W (and B) as initializers holding the case's values, X its only input."""
    onnx = import_framework("onnx")
    graph = model.graph
    kept = [i for i in graph.input if i.name == "X"]
    del graph.input[:]
    graph.input.extend(kept)
    graph.initializer.extend(onnx.numpy_helper.from_array(inputs[name], name) for name in ("W", "B")
                             if name in inputs)
    return model


def _canonical_output(y: np.ndarray, channels_last: bool) -> np.ndarray:
    """onnx2tf's result in the canonical layout: it leaves ONNX's NCHW outputs channels-last
    (NHWC, what TF computes in) and says so per output, so the adapter moves the channels back."""
    return from_channels_last(y) if channels_last else y


# onnx2tf feeds 4-D inputs whose last dim is 3 (image-like, as an (N, C, H, 3) case is) with sample
# images it downloads from GitHub into the working directory, or reads from there when present;
# they are only its dummy-inference data. Offline, the download fails the conversion, so the
# conversion runs in a scratch folder holding such a file of uniform [0, 1) values (and onnx2tf's
# `saved_model` folder lands there too, not in the repository). One folder, kept and reused.
_SAMPLE_IMAGES = "calibration_image_sample_data_20x128x128x3_float32.npy"


@cache
def _scratch_dir() -> Path:
    """onnx2tf's working directory, with its sample images (written once, atomically)."""
    folder = Path(tempfile.gettempdir()) / "tconv-onnx2tf"
    folder.mkdir(exist_ok=True)
    if not (folder / _SAMPLE_IMAGES).is_file():
        images = np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npy", delete=False) as partial:
            np.save(partial, images)
        os.replace(partial.name, folder / _SAMPLE_IMAGES)  # a worker beside this one sees all or nothing
    return folder


@contextlib.contextmanager
def _working_directory(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def convert(model: Any) -> Any:
    """The tf_keras model onnx2tf makes of an ONNX model, its log swallowed.

    onnx2tf prints its progress and, when it cannot convert a node, an error and `sys.exit(1)`:
    that becomes a RuntimeError carrying the last lines it printed (the row's message)."""
    import_framework("tensorflow")  # first, as tconv imports it: TF's C++ logging quiet
    onnx2tf = import_framework("onnx2tf")
    import_framework("tf_keras").backend.clear_session()  # no layers left over from the previous case
    log = io.StringIO()
    scratch = _scratch_dir()
    try:
        with contextlib.redirect_stdout(log), _working_directory(scratch):
            return onnx2tf.convert(onnx_graph=model, output_folder_path=str(scratch / "saved_model"),
                                   disable_model_save=True, not_use_onnxsim=True, non_verbose=True,
                                   keep_ncw_or_nchw_or_ncdhw_input_names=_KEEP_NCHW)
    except SystemExit as stop:
        said = " ".join(" ".join(log.getvalue().split()[-60:]).split())
        raise RuntimeError(f"onnx2tf stopped (exit {stop.code}): {_plain(said)[-300:]}") from None
    except AssertionError as refusal:  # its refusals (`assert False, error_msg`) carry terminal colours
        raise AssertionError(_plain(str(refusal))) from None


def _plain(text: str) -> str:
    """onnx2tf's log without its terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class Onnx2Tf(OnnxModelAdapter):
    name = "onnx.onnx2tf"
    framework = "onnx"
    route = "conversion: one-node ONNX model -> onnx2tf -> TensorFlow (tf_keras model)"
    runtime = "onnx2tf and TensorFlow"
    requires = ("onnx2tf", "tf_keras", "tensorflow")

    def execute(self, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        keras_model = convert(with_constant_weights(model, inputs))
        y = keras_model(inputs["X"], training=False)
        layouts = getattr(keras_model, "onnx_output_layouts", {"Y": True})
        return _canonical_output(np.asarray(y), bool(layouts.get("Y", True)))

    def path(self, case: Case) -> str:
        """The converter and the runtime, with their versions (the row's version is onnx's)."""
        tf = import_framework("tensorflow")
        return f"onnx2tf {import_framework('onnx2tf').__version__}, tensorflow {tf.__version__} (tf_keras model)"

    def translation(self, case: Case) -> str | None:
        layout = ("onnx2tf keeps X channels-first (keep_ncw_or_nchw_or_ncdhw_input_names=['X']) and returns Y "
                  "channels-last, moved back to NCHW by the adapter")
        return "; ".join(t for t in (super().translation(case), layout) if t)

    def gradient_support(self, case: Case) -> str | None:
        return "a converted inference model is run for inference only (no gradients through the conversion)"

    @cache  # noqa: B019 - adapters are module-level singletons
    def _missing_kernel(self, dtype: str) -> str | None:
        """Whether onnx2tf and TensorFlow carry a dtype at all (asked once per dtype, tiny case)."""
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{dtype} through onnx2tf and TensorFlow: {' '.join(str(error).split())[:200]}"
        return None


ADAPTERS = (Onnx2Tf(),)
