"""MkDocs hooks (mkdocs.yml ``hooks:``): the generated tables in their pages, the generated diagrams as files."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagrams import DIAGRAMS
from tables import TABLES

_MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, draw in DIAGRAMS.items():
        files.append(File.generated(config, path, content=draw()))
    return files


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    def table(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise KeyError(f"{page.file.src_uri}: no generated table {name!r}; known: {', '.join(TABLES)}")
        return TABLES[name]()

    return _MARKER.sub(table, markdown)
