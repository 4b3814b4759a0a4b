"""Persona subcommands: `import-card FILE` and `export-card ID OUT`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatar.core.errors import AvatarError
from avatar.core.settings import Settings
from avatar.personas.service import PersonaService


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    importer = commands.add_parser(
        "import-card",
        parents=[common],
        help="import a character card (.png or .json) as a persona; prints its id",
        description="Import a Character Card V1/V2/V3 (.png or .json) into <data-dir>/personas/ and print the new id.",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="the card file")
    importer.set_defaults(run=lambda settings, args: import_card_command(settings, args.file))
    exporter = commands.add_parser(
        "export-card",
        parents=[common],
        help="export a persona as a character card (.png or .json)",
        description="Write a persona as a Character Card: OUT ending in .png (V2 and V3 inside) or .json (V2).",
    )
    exporter.add_argument("id", metavar="ID", help="the persona's id (its file name without .yaml)")
    exporter.add_argument("out", type=Path, metavar="OUT", help="the card file to write: NAME.png or NAME.json")
    exporter.set_defaults(run=lambda settings, args: export_card_command(settings, args.id, args.out))


def import_card_command(settings: Settings, file: Path) -> int:
    try:
        settings.user_personas_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        # e.g. --data-dir names a file: say so in one line rather than show a traceback.
        print(
            f"Cannot import {file}: cannot use {settings.user_personas_dir} ({error.strerror or error}).",
            file=sys.stderr,
        )
        return 2
    personas = PersonaService(settings.builtin_personas_dir, settings.user_personas_dir)
    try:
        persona, warnings = personas.import_card(file)
    except AvatarError as error:
        print(f"Cannot import {file}: {error.message}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(persona.id)
    return 0


def export_card_command(settings: Settings, persona_id: str, out: Path) -> int:
    personas = PersonaService(settings.builtin_personas_dir, settings.user_personas_dir)
    if out.suffix.lower() not in (".png", ".json"):
        print(f"Cannot export to {out}: the file name must end in .png or .json.", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"Cannot export to {out}: there is no folder {out.parent}.", file=sys.stderr)
        return 2
    known = [persona.id for persona in personas.list()]
    if persona_id not in known:
        print(f"Cannot export {persona_id}: there is no such persona (known: {', '.join(known)}).", file=sys.stderr)
        return 2
    try:
        path = personas.export_card(persona_id, out)
    except AvatarError as error:
        print(f"Cannot export {persona_id}: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"Cannot write {out}: {error.strerror or error}.", file=sys.stderr)
        return 1
    print(path)
    return 0
