"""Persona files on disk: YAML, one file per persona, the id being the file's stem."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from avatar.personas.schemas import PERSONA_ID_PATTERN, Persona, PersonaLoadError

_ID_RE = re.compile(PERSONA_ID_PATTERN)


def persona_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(piece) for piece in item["loc"]) or "(file)"
        if item["type"] == "extra_forbidden":
            parts.append(f"field '{field}' is not a persona field (a typo?)")
        elif item["type"] == "missing":
            parts.append(f"field '{field}' is required")
        else:
            parts.append(f"field '{field}': {item['msg']}")
    return "; ".join(parts)


def load_persona(path: Path, builtin: bool) -> Persona | PersonaLoadError:
    """The persona in `path`, or an error that names the file and the field."""
    persona_id = path.stem
    if not _ID_RE.match(persona_id):
        return PersonaLoadError(
            path=str(path),
            message=f"{path.name}: the file name must be a lowercase id (letters, digits, - and _)",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return PersonaLoadError(path=str(path), message=f"{path.name}: cannot read the file ({error})")
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        return PersonaLoadError(path=str(path), message=f"{path.name}: not valid YAML{line}")
    if not isinstance(data, dict):
        return PersonaLoadError(path=str(path), message=f"{path.name}: expected a mapping of fields")
    try:
        return Persona.model_validate({**data, "id": persona_id, "builtin": builtin})
    except ValidationError as error:
        return PersonaLoadError(path=str(path), message=f"{path.name}: {_describe_validation_error(error)}")
