"""The documentation stands alone and its examples work.

The repository must make sense with nothing beside it: no document points outside it, every
relative link resolves, and every case-file example in the README loads as a case file.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from harness.casefile import load_cases
from tests.conftest import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "cases").glob("*.yaml")),
             REPO / "reports" / "README.md"]
OUTSIDE = re.compile(r"\.\./shared|/work/|\.\./seeds")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_reference_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert not OUTSIDE.findall(text), f"{document.name} refers outside the repository"
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (document.parent / target).exists(), f"{document.name}: broken link {target}"


def test_the_readme_links_the_contract() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/contract.md)" in readme
    contract = (REPO / "docs" / "contract.md").read_text(encoding="utf-8")
    for heading in ("## Canonical semantics", "## Case files", "## Command line", "## Report", "## Plugin adapters",
                    "## pytest plugin"):
        assert heading in contract


def _yaml_examples(text: str) -> list[str]:
    """The README's ```yaml blocks that hold cases (a `cases:` file or list items of one)."""
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    examples = []
    for block in blocks:
        if block.lstrip().startswith("cases:"):
            examples.append(block)
        elif block.lstrip().startswith("- id:"):
            examples.append("cases:\n" + textwrap.indent(textwrap.dedent(block), "  "))
    return examples


def test_the_readme_case_examples_load(tmp_path: Path) -> None:
    examples = _yaml_examples((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(examples) >= 2
    for number, example in enumerate(examples):
        path = tmp_path / f"example{number}.yaml"
        path.write_text(example, encoding="utf-8")
        assert load_cases([path]), example
