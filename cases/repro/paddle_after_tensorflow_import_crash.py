# tconv-repro: framework=paddle versions=>=3.0
"""Importing PaddlePaddle into a process that has loaded TensorFlow kills it (SIGSEGV).

`import tensorflow; import paddle` crashes inside Paddle's import (Paddle 3.3.1, TensorFlow 2.21,
x86-64 Linux); `import paddle; import tensorflow` works and both then compute. Any tool that runs
several frameworks in one process (a pytest worker, a notebook) dies without a Python error.
tconv gives each framework its own worker in `tconv run`, imports Paddle first in one process
(`adapters.base.import_first`) and refuses the late import with an ImportError otherwise.

Run in a child process; exit status 1 while the child dies of a signal, 0 once it imports.
"""

import subprocess
import sys

child = subprocess.run([sys.executable, "-c", "import tensorflow\nimport paddle\nprint('imported')"],
                       capture_output=True, text=True, timeout=300)
if child.returncode < 0 or child.returncode > 128:
    print(f"import tensorflow; import paddle: killed by signal {-child.returncode if child.returncode < 0 else child.returncode - 128}")
    sys.exit(1)
print("import tensorflow; import paddle:", child.stdout.strip() or child.stderr.strip()[-200:])
sys.exit(0 if child.returncode == 0 else 1)
