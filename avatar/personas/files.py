"""Persona ids that are safe file names. (Atomic writes live in avatar.core.files.)"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from avatar.core.files import atomic_write_bytes, atomic_write_text  # noqa: F401  (re-exported)
from avatar.personas.schemas import PERSONA_ID_PATTERN

_ID_RE = re.compile(PERSONA_ID_PATTERN)
_MAX_ID_LENGTH = 64
# Leaves room for a "-NNN" suffix without going past the 64 characters the id pattern allows.
_MAX_BASE_LENGTH = 56
# Names Windows will not accept as a file stem, so that data dirs stay portable.
_RESERVED_STEMS = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_FALLBACK_ID = "persona"


def slugify(name: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens; '' if nothing of that is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:_MAX_BASE_LENGTH].rstrip("-")


def safe_persona_id(name: str, existing_ids: Iterable[str] = ()) -> str:
    """An id for a persona called `name`: a safe file stem matching PERSONA_ID_PATTERN, not in `existing_ids`.

    Path characters cannot survive ("../../etc/passwd" becomes "etc-passwd"); a name with no
    ASCII letters or digits becomes "persona"; a clash gets "-2", "-3", ... appended.
    """
    taken = {existing.lower() for existing in existing_ids}
    base = slugify(name) or _FALLBACK_ID
    if base in _RESERVED_STEMS:
        base = f"{base}-{_FALLBACK_ID}"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: _MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
    assert _ID_RE.match(candidate), candidate
    return candidate
