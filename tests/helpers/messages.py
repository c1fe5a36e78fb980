"""Reading error messages the way a user does: one that says a phrase twice reads as a mistake."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w.:/'{}()=-]+")
_URL = re.compile(r"https?://[^\s,;)'\"]+")


def repeated_phrase(text: str, words: int = 4) -> str | None:
    """The first phrase of ``words`` words (or a URL) that ``text`` says twice, else ``None``
    ("e.g. https://x, or https://x")."""
    urls = _URL.findall(text)
    for url in urls:
        if urls.count(url) > 1:
            return url
    tokens = [token.strip(".,;:()").lower() for token in _WORD.findall(text)]
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - words + 1):
        gram = tuple(tokens[i : i + words])
        if gram in seen and seen[gram] + words <= i:
            return " ".join(gram)
        seen.setdefault(gram, i)
    return None
