"""World subcommands: `import-world FILE` and `export-world ID OUT` (SillyTavern World Info JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatar.core.db import open_database
from avatar.core.errors import AvatarError
from avatar.core.settings import Settings
from avatar.worlds.service import WorldService


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    importer = commands.add_parser(
        "import-world",
        parents=[common],
        help="import a SillyTavern World Info file (.json) as a world for scenes; prints its id",
        description="Import a SillyTavern World Info file as a world: its entries become the world's lore "
        "(recalled in scenes set there; constant entries always). Prints the new world's id.",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="the World Info .json file")
    importer.set_defaults(run=lambda settings, args: import_world_command(settings, args.file))
    exporter = commands.add_parser(
        "export-world",
        parents=[common],
        help="export a world as a SillyTavern World Info file",
        description="Write a world (its name, description and every lorebook entry) as World Info JSON.",
    )
    exporter.add_argument("id", metavar="ID", help="the world's id (import-world prints it)")
    exporter.add_argument("out", type=Path, metavar="OUT", help="the file to write, e.g. meridian.json")
    exporter.set_defaults(run=lambda settings, args: export_world_command(settings, args.id, args.out))


def _service(settings: Settings) -> WorldService:
    settings.ensure_dirs()
    return WorldService(open_database(settings.db_path))


def import_world_command(settings: Settings, file: Path) -> int:
    try:
        worlds = _service(settings)
        world, warnings = worlds.import_world(file)
    except AvatarError as error:
        print(f"Cannot import {file}: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"Cannot import {file}: {error.strerror or error}.", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(world.id)
    return 0


def export_world_command(settings: Settings, world_id: str, out: Path) -> int:
    if not out.parent.is_dir():
        print(f"Cannot export to {out}: there is no folder {out.parent}.", file=sys.stderr)
        return 2
    worlds = _service(settings)
    try:
        path = worlds.export_world(world_id, out)
    except AvatarError as error:
        known = ", ".join(f"{w.id} ({w.name})" for w in worlds.list()) or "none yet"
        print(f"Cannot export {world_id}: {error.message} Known worlds: {known}.", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"Cannot write {out}: {error.strerror or error}.", file=sys.stderr)
        return 1
    print(path)
    return 0
