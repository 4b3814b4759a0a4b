"""`import-expressions PATH --persona ID`: a SillyTavern sprite pack (folder or zip of <label>.png) for a persona."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatar.core.errors import AvatarError
from avatar.core.settings import Settings
from avatar.expressions.sprites import SpriteStore
from avatar.personas.service import PersonaService


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    importer = commands.add_parser(
        "import-expressions",
        parents=[common],
        help="import expression sprites (a folder or .zip of <label>.png, as SillyTavern has them) for a persona",
        description="Import a SillyTavern expression sprite pack: a folder or a .zip of pictures named after the "
        "28 emotion labels (joy.png, anger.png, ...). Labels it has replace the persona's; the others stay.",
    )
    importer.add_argument("path", type=Path, metavar="PATH", help="the folder or .zip")
    importer.add_argument("--persona", required=True, metavar="ID", help="the persona's id (its file name)")
    importer.set_defaults(run=lambda settings, args: import_expressions_command(settings, args.path, args.persona))


def import_expressions_command(settings: Settings, path: Path, persona_id: str) -> int:
    personas = PersonaService(settings.builtin_personas_dir, settings.user_personas_dir)
    known = [persona.id for persona in personas.list()]
    if persona_id not in known:
        print(f"Cannot import {path}: there is no persona {persona_id!r} (known: {', '.join(known)}).", file=sys.stderr)
        return 2
    try:
        settings.user_personas_dir.mkdir(parents=True, exist_ok=True)
        result = SpriteStore(personas).import_pack(persona_id, path)
    except AvatarError as error:
        print(f"Cannot import {path}: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"Cannot import {path}: {error.strerror or error}.", file=sys.stderr)
        return 1
    print(result.summary())
    return 0
