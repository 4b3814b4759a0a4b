"""The personas the app knows: built-ins from personas/, the user's own from <data-dir>/personas/.

A user's file with the same id as a built-in overrides it (that is how editing a built-in works).
Files are re-read when they change on disk, so hand edits show up without a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path

from avatar.personas.exceptions import PersonaNotFound
from avatar.personas.repository import load_persona, persona_files
from avatar.personas.schemas import Persona, PersonaLoadError, PersonaSummary

log = logging.getLogger(__name__)


class PersonaService:
    def __init__(self, builtin_dir: Path, user_dir: Path) -> None:
        self.builtin_dir = builtin_dir
        self.user_dir = user_dir
        self._personas: dict[str, Persona] = {}
        self._errors: list[PersonaLoadError] = []
        self._fingerprint: tuple = ()
        self.reload_if_changed()

    def _current_fingerprint(self) -> tuple:
        files = persona_files(self.builtin_dir) + persona_files(self.user_dir)
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def reload_if_changed(self) -> None:
        fingerprint = self._current_fingerprint()
        if fingerprint == self._fingerprint:
            return
        personas: dict[str, Persona] = {}
        errors: list[PersonaLoadError] = []
        for directory, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            for path in persona_files(directory):
                loaded = load_persona(path, builtin=builtin)
                if isinstance(loaded, PersonaLoadError):
                    log.error("persona file skipped: %s", loaded.message)
                    errors.append(loaded)
                else:
                    personas[loaded.id] = loaded
        self._personas = dict(sorted(personas.items(), key=lambda item: item[1].name.lower()))
        self._errors = errors
        self._fingerprint = fingerprint

    def list(self) -> list[Persona]:
        self.reload_if_changed()
        return list(self._personas.values())

    def summaries(self) -> list[PersonaSummary]:
        return [PersonaSummary(id=p.id, name=p.name) for p in self.list()]

    def errors(self) -> list[PersonaLoadError]:
        self.reload_if_changed()
        return list(self._errors)

    def get(self, persona_id: str) -> Persona:
        self.reload_if_changed()
        persona = self._personas.get(persona_id)
        if persona is None:
            raise PersonaNotFound(persona_id)
        return persona

    def default_id(self) -> str | None:
        personas = self.list()
        return personas[0].id if personas else None
