"""MkDocs hooks (mkdocs.yml ``hooks:``): the generated tables in their pages, the generated diagrams as files.

The tables are also committed in the pages, between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME
-->``, so that the pages read in the repository (GitHub, the sdist) show them too; ``make docs-tables`` (this file
run as a program) writes them there, and ``tests/unit/test_docs_tables.py`` fails when one is stale. The site
build puts the code's table in place again, so it never publishes a stale one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagrams import DIAGRAMS
from tables import TABLES

DOCS = Path(__file__).resolve().parents[1]
PAGES = [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]
# a start marker, and the table committed up to its end marker (absent in a page that has not been written yet)
_BLOCK = re.compile(
    r"^<!-- generated: (?P<name>[\w-]+) -->\n(?:(?P<table>.*?)^<!-- end generated: (?P=name) -->$)?", re.M | re.S
)


def with_tables(markdown: str, where: str = "page") -> str:
    """``markdown`` with every generated table made from the code again, between its markers."""

    def table(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise KeyError(f"{where}: no generated table {name!r}; known: {', '.join(TABLES)}")
        first = "" if match["table"] is not None else "\n"  # a bare start marker had its line's end taken
        return f"<!-- generated: {name} -->\n{TABLES[name]()}\n<!-- end generated: {name} -->{first}"

    return _BLOCK.sub(table, markdown)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, draw in DIAGRAMS.items():
        files.append(File.generated(config, path, content=draw()))
    return files


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    return with_tables(markdown, page.file.src_uri)


def main() -> int:
    """Write the code's tables into the pages; name the pages changed."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        fresh = with_tables(text, str(page.relative_to(DOCS.parent)))
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            print(f"updated {page.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
