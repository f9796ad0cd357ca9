"""tconv: a conformance harness for transposed convolution across frameworks.

`harness.oracle.conv_transpose` is the canonical definition; `harness.casefile` reads case
files; `harness.runner` runs cases on the adapters in `adapters/`; `harness.report` writes what
disagrees and why.
"""

__version__ = "0.1.0"
