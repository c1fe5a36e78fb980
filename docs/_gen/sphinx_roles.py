"""A griffe extension (mkdocs.yml, mkdocstrings' ``extensions``): Sphinx roles in the docstrings as Markdown code.

The docstrings are reST (``:param:`` fields, ``:func:`name``` roles); mkdocstrings reads the fields but shows a
role as it is written, and a role at the start of a line reads to it as a field. ``:func:`~a.b.c``` becomes
```c```, ``:class:`a.b.C``` becomes ```a.b.C```.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

_ROLE = re.compile(r":(?:py:)?(?:func|meth|class|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(Extension):
    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)
