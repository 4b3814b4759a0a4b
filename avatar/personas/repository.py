"""Persona files on disk: YAML, one file per persona, the id being the file's stem."""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from avatar.core.files import atomic_write_bytes, atomic_write_text
from avatar.personas.schemas import PERSONA_ID_PATTERN, Persona, PersonaFile, PersonaLoadError

_ID_RE = re.compile(PERSONA_ID_PATTERN)
EXPRESSIONS_SUFFIX = "expressions"  # <id>.expressions/: the persona's sprites (avatar/expressions/sprites.py)
# Files written before post_history_instructions was a field carried it at the end of system_prompt,
# under this heading (cards.py did that on import). load_persona splits it off again.
LEGACY_POST_HISTORY_HEADING = "## Instructions for every reply"
_LEGACY_SEPARATOR = f"\n\n{LEGACY_POST_HISTORY_HEADING}\n"


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
        return Persona.model_validate({**_upgrade_legacy(data), "id": persona_id, "builtin": builtin})
    except ValidationError as error:
        return PersonaLoadError(path=str(path), message=f"{path.name}: {_describe_validation_error(error)}")


def split_legacy_post_history(system_prompt: str) -> tuple[str, str]:
    """(system prompt, post-history instructions) from a system_prompt written by the old card import."""
    if system_prompt.startswith(f"{LEGACY_POST_HISTORY_HEADING}\n"):
        return "", system_prompt[len(LEGACY_POST_HISTORY_HEADING) + 1 :]
    before, separator, after = system_prompt.rpartition(_LEGACY_SEPARATOR)
    return (before, after) if separator else (system_prompt, "")


def _upgrade_legacy(data: dict) -> dict:
    prompt = data.get("system_prompt")
    if "post_history_instructions" in data or not isinstance(prompt, str):
        return data
    system, post_history = split_legacy_post_history(prompt)
    if not post_history:
        return data
    return {**data, "system_prompt": system, "post_history_instructions": post_history}


# Writing persona files. Added for card import/export; the loading above is unchanged.


class _PersonaDumper(yaml.SafeDumper):
    """YAML a person can edit: multi-line text as `|` blocks, keys in schema order, unicode as is."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to quoting by itself when a block cannot hold the text exactly.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PersonaDumper.add_representer(str, _represent_text)


def persona_yaml(persona: PersonaFile) -> str:
    """The text of `persona`'s YAML file; fields left at their defaults are omitted."""
    # include=: a Persona passed in must not write its id and builtin flag into the file.
    data = persona.model_dump(mode="json", exclude_defaults=True, include=set(PersonaFile.model_fields))
    return yaml.dump(data, Dumper=_PersonaDumper, sort_keys=False, allow_unicode=True, width=100)


def save_persona(
    directory: Path,
    persona_id: str,
    persona: PersonaFile,
    *,
    attachments: Mapping[str, bytes] | None = None,
    replace: bool = False,
) -> Path:
    """Write <id>.yaml and its attachments (suffix -> bytes, e.g. {"png": ...}) into `directory`.

    Every file is written atomically and the YAML last, so the persona appears (the service lists
    YAML files) only once its image is in place. With replace=False nothing existing is
    overwritten (FileExistsError) and a failure removes the attachments already written, leaving
    the directory as it was.
    """
    if not _ID_RE.match(persona_id):
        raise ValueError(f"not a persona id: {persona_id!r}")
    directory.mkdir(parents=True, exist_ok=True)
    yaml_path = directory / f"{persona_id}.yaml"
    if not replace and (directory / f"{persona_id}.yml").exists():
        raise FileExistsError(errno.EEXIST, "file exists", str(directory / f"{persona_id}.yml"))
    written: list[Path] = []
    try:
        for suffix, data in (attachments or {}).items():
            path = directory / f"{persona_id}.{suffix}"
            atomic_write_bytes(path, data, replace=replace)
            written.append(path)
        atomic_write_text(yaml_path, persona_yaml(persona), replace=replace)
    except BaseException:
        if not replace:
            for path in written:
                path.unlink(missing_ok=True)
        raise
    return yaml_path


def used_stems(directory: Path) -> set[str]:
    """Every file's stem in `directory`, so that a new persona never adopts a stray <id>.png or <id>.card.json."""
    if not directory.is_dir():
        return set()
    return {path.name.split(".", 1)[0].lower() for path in directory.iterdir() if not path.name.startswith(".")}


def expressions_dir(directory: Path, persona_id: str) -> Path:
    """The persona's expression sprites: <id>.expressions/<label>.png beside its YAML file."""
    return directory / f"{persona_id}.{EXPRESSIONS_SUFFIX}"


def write_sprite_folder(directory: Path, persona_id: str, sprites: Mapping[str, bytes]) -> Path:
    """A new <id>.expressions folder holding `sprites` (label -> PNG); FileExistsError if there is one."""
    folder = expressions_dir(directory, persona_id)
    folder.mkdir(parents=True)  # FileExistsError: a stray folder of that name is never adopted
    try:
        for label, data in sprites.items():
            atomic_write_bytes(folder / f"{label}.png", data)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def delete_persona_files(directory: Path, persona_id: str, image: str | None) -> None:
    """Remove <id>.yaml (first, so the persona is gone at once), then its image, card extras and sprites."""
    for name in (f"{persona_id}.yaml", f"{persona_id}.yml", image, f"{persona_id}.card.json"):
        # The image name comes from a hand-editable file: only a plain name inside `directory`, and
        # only the persona's own (<id>.<ext>): another persona may use a differently named picture.
        if name and name == Path(name).name and name.startswith(f"{persona_id}."):
            (directory / name).unlink(missing_ok=True)
    shutil.rmtree(expressions_dir(directory, persona_id), ignore_errors=True)


def persona_image_path(directory: Path, persona: PersonaFile) -> Path | None:
    """The persona's image file, if it names a plain file beside the YAML that exists."""
    name = persona.image
    # The name comes from a hand-editable file: never follow it out of the persona directory.
    if not name or name != Path(name).name or name.startswith(".") or "\\" in name:
        return None
    path = directory / name
    return path if path.is_file() else None
