"""Platform facts every reproducer prints: a verdict holds for a release on a path and a CPU.

Standalone on purpose (no tconv import): copy it next to a reproducer when filing a bug.
"""

import os
import platform
from pathlib import Path

FEATURES = ("avx2", "avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16", "avx_ne_convert")
SWITCHES = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "TCONV_TORCH_MKLDNN")


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def describe(path: str) -> str:
    """One line: CPU model, the kernel-selecting ISA features, switches set, and the path taken."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    isa = " ".join(f for f in FEATURES if f in flags) or "none of " + "/".join(FEATURES)
    switches = " ".join(f"{k}={os.environ[k]}" for k in SWITCHES if k in os.environ)
    return f"platform: {model}; ISA: {isa}{'; ' + switches if switches else ''}; path: {path}"


def dies_by_signal(code: str) -> int:
    """A crash reproducer's exit status: `code` runs in a child Python, and the status is 1 while
    that process dies by a signal (a segfault), 0 once it finishes. A Python error in it (a
    changed API) is raised: that is not the finding. The child imports the reproducers' shared
    helpers (`_openvino`) as the scripts do: their folder is on its path."""
    import os
    import subprocess
    import sys

    folder = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    if done.returncode > 0:
        raise RuntimeError(f"the layer raised instead of running:\n{done.stderr[-2000:]}")
    print(done.stdout.strip() or f"the process died: signal {-done.returncode}")
    return 1 if done.returncode < 0 else 0
