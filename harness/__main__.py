"""`python -m harness` is the `tconv` command."""

from harness.cli import main

if __name__ == "__main__":  # not when multiprocessing's workers import the parent's main module
    raise SystemExit(main())
