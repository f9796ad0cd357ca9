# tconv-repro: framework=mlx versions=>=0.20
"""MLX (CPU) `conv_transpose{1,2}d`: four ways it fails where it should compute.

1. Zero input channels kill the process (SIGFPE, a division by zero in native code); in the
   built-in cases some empty batches do too, and zero output channels in 1-D end the process
   with exit status 0.
2. float64: with stride 1 the result is a float64 array only float32-accurate (C_in 3, k 3:
   errors ~3e-7 on values of order 1); with stride 2 it raises "[Convolution::eval] got
   unsupported data type".
3. The gradient with respect to the input (`mx.vjp`) of a call with output_padding has the
   wrong shape: x (1, 3, 3, 1), stride 2, output_padding 1 gives a (1, 2, 2, 1) gradient; in 3-D
   (`tconv fuzz`), with a padding also beyond a one-tap dim (4. below), the vjp raises broadcast
   errors or, on other shapes, returns wrong values; the broadcast errors come in 2-D too: x (1, 1, 3, 1),
   a 1 x 1 kernel, stride (2, 1), padding (0, 1), output_padding (1, 0) ("Cannot broadcast array of
   shape (1,0,1,1) into shape (1,1,1,1)"; with 2 rows of input it runs), and where it runs the input
   gradient can be wrong (`tconv fuzz`, seed 181): x (1, 2, 2, 1), a 1 x 1 kernel 0.7, stride (2, 1),
   padding (0, 1), dilation (1, 3), output_padding (1, 2): both rows of the gradient read the upstream
   gradient's row 0 (x[1, 1]'s gradient is x[0, 1]'s), where row 1's reads row 2.
4. A padding (crop) beyond dilation * (kernel - 1) gives a result too short: length 5, kernel
   3, stride 3, padding 3 is (5-1)*3 - 6 + 3 = 9 long (PyTorch: 9); MLX returns 5. With padding 4
   (7 long) it raises "[conv] Spatial dimensions of input after padding cannot be smaller than
   weight spatial dimensions"; the gradients of a too-short call are refused by `mx.vjp` (the
   upstream gradient has the right shape, the result does not).

Each part runs in a child process. Exit status 1 while any part is there, 0 once all are gone.
"""

import subprocess
import sys

PARTS = {
    "empty batch (N = 0)": "import mlx.core as mx\n"
    "y = mx.conv_transpose1d(mx.zeros((0, 3, 2)), mx.ones((2, 2, 2)))\nmx.eval(y)\nprint('ok', y.shape)",
    "zero input channels": "import mlx.core as mx\n"
    "y = mx.conv_transpose1d(mx.zeros((1, 3, 0)), mx.ones((2, 2, 0)))\nmx.eval(y)\nprint('ok', y.shape)",
    "float64, stride 1": "import mlx.core as mx, numpy as np\n"
    "rng = np.random.default_rng(0); x = rng.standard_normal((1, 3, 3)); w = rng.standard_normal((1, 3, 3))\n"
    "y = np.array(mx.conv_transpose1d(mx.array(x, dtype=mx.float64), mx.array(w, dtype=mx.float64))).ravel()\n"
    "ref = np.zeros(5)\nfor i in range(3):\n    for t in range(3):\n        ref[i + t] += x[0, i] @ w[0, t]\n"
    "err = np.abs(y - ref).max()\nprint('ok' if err < 1e-12 else f'float32-accurate float64: max error {err:.2g}')",
    "float64, stride 2": "import mlx.core as mx\n"
    "y = mx.conv_transpose1d(mx.ones((1, 3, 1), dtype=mx.float64), mx.ones((1, 2, 1), dtype=mx.float64), stride=2)\n"
    "mx.eval(y)\nprint('ok', y.dtype)",
    "grad_input with output_padding": "import mlx.core as mx\n"
    "f = lambda x: mx.conv_transpose2d(x, mx.ones((1, 2, 2, 1)), stride=2, output_padding=1)\n"
    "x = mx.ones((1, 3, 3, 1))\n_, (g,) = mx.vjp(f, [x], [mx.ones(f(x).shape)])\n"
    "print('ok' if g.shape == x.shape else f'grad shape {g.shape}, input {x.shape}')",
    "grad with output_padding, 3-D": "import mlx.core as mx\n"
    "f = lambda x: mx.conv_transpose3d(x, mx.ones((1, 3, 1, 2, 1)), stride=(1, 1, 3), padding=1, "
    "output_padding=(0, 0, 2))\n"
    "x = mx.ones((1, 1, 3, 3, 1))\n_, (g,) = mx.vjp(f, [x], [mx.ones(f(x).shape)])\nmx.eval(g)\n"
    "print('ok' if g.shape == x.shape else f'grad shape {g.shape}, input {x.shape}')",
    "grad with output_padding, 2-D": "import mlx.core as mx\n"
    "f = lambda x: mx.conv_transpose2d(x, mx.ones((1, 1, 1, 1)), stride=(2, 1), padding=(0, 1), output_padding=(1, 0))\n"
    "x = mx.ones((1, 1, 3, 1))\n_, (g,) = mx.vjp(f, [x], [mx.ones(f(x).shape)])\nmx.eval(g)\n"
    "print('ok' if g.shape == x.shape else f'grad shape {g.shape}, input {x.shape}')",
    "grad_input values with output_padding, 2-D": "import mlx.core as mx, numpy as np\n"
    "f = lambda x: mx.conv_transpose2d(x, mx.full((1, 1, 1, 1), 0.7), stride=(2, 1), padding=(0, 1), "
    "dilation=(1, 3), output_padding=(1, 2))\n"
    "rng = np.random.default_rng(0); x = mx.array(rng.standard_normal((1, 2, 2, 1)), dtype=mx.float32)\n"
    "u = rng.standard_normal(f(x).shape).astype(np.float32)\n_, (g,) = mx.vjp(f, [x], [mx.array(u)])\n"
    "want = np.zeros((2, 2), np.float32); want[:, 1] = 0.7 * u[0, ::2, 0, 0]\n"
    "got = np.array(g)[0, :, :, 0]\n"
    "print('ok' if np.allclose(got, want, atol=1e-6) else f'grad {got.tolist()}, want {want.tolist()}')",
    "padding beyond the kernel": "import mlx.core as mx\n"
    "y = mx.conv_transpose1d(mx.ones((1, 5, 1)), mx.ones((1, 3, 1)), stride=3, padding=3)\n"
    "print('ok' if y.shape[1] == 9 else f'length {y.shape[1]}, not 9')",
    "padding further beyond the kernel": "import mlx.core as mx\n"
    "y = mx.conv_transpose1d(mx.ones((1, 5, 1)), mx.ones((1, 3, 1)), stride=3, padding=4)\nmx.eval(y)\n"
    "print('ok' if y.shape[1] == 7 else f'length {y.shape[1]}, not 7')",
}
present = False
for name, code in PARTS.items():
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = (child.stdout.strip() or child.stderr.strip()).splitlines()
    out = lines[-1] if lines else ""
    if child.returncode < 0:
        verdict = f"killed by signal {-child.returncode}"
    elif child.returncode == 0 and not out.startswith("ok"):
        verdict = out or "exited with status 0 and printed nothing"
    elif child.returncode != 0:
        verdict = f"exit {child.returncode}: {out[-160:]}"
    else:
        verdict = out
    present |= not verdict.startswith("ok")
    print(f"{name}: {verdict}")
sys.exit(1 if present else 0)
