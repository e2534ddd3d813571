"""Names as people write them, and the keys made from them for files, folders and URLs."""

from __future__ import annotations

import re
import unicodedata

SLUG_MAX = 60


def slug(text: str, fallback: str = "") -> str:
    """A key for files and URLs: lower-case ASCII letters, digits and single dashes (``Platform & SRE``
    → ``platform-sre``, ``Paiements (EU)`` → ``paiements-eu``). Text with no Latin letter or digit
    gives the slug of ``fallback`` (an id-based key), else ``unnamed``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")
    if out:
        return out
    return slug(fallback) if fallback else "unnamed"
