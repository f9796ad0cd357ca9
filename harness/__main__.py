"""`python -m harness` is the `tconv` command."""

from harness.cli import main

raise SystemExit(main())
