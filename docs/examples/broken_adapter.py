"""A deliberately broken adapter, for the README's screenshot and for trying `--plugin`.

It is PyTorch's `conv_transpose2d` with the classic slip of hand-written zero-insertion code:
the kernel handed over rotated by 180 degrees. tconv reports it as failing, and the diagnosis
names the slip. Run it with

    tconv run cases/seeds.yaml cases/channels.yaml --frameworks numpy,torch --plugin docs/examples/broken_adapter.py --out reports/broken
"""

import dataclasses

import numpy as np

from adapters.base import Adapter
from adapters.layout import rot180
from adapters.pytorch import TorchFunctional


class FlippedKernelTorch(Adapter):
    name = "torch.BROKEN-flipped-kernel"
    framework = "torch"

    def supports(self, case):
        return TorchFunctional().supports(case)

    def run(self, case) -> np.ndarray:
        return TorchFunctional().run(dataclasses.replace(case, kernel=rot180(case.kernel)))


ADAPTERS = (FlippedKernelTorch(),)
