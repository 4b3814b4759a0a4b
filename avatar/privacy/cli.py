"""Privacy subcommands: `export OUT` (everything, or a fine-tuning JSONL) and `wipe --yes`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatar.core.settings import Settings


def add_parsers(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    exporter = commands.add_parser(
        "export",
        parents=[common],
        help="export everything (conversations, memories, personas, settings) as one .zip",
        description="Write everything the app stores about you to OUT (.zip), or with --finetune the "
        "conversations as a JSONL fine-tuning dataset (chat 'messages' with persona metadata).",
    )
    exporter.add_argument("out", type=Path, metavar="OUT")
    exporter.add_argument("--finetune", action="store_true", help="write a JSONL fine-tuning dataset instead")
    exporter.add_argument("--persona", metavar="ID", help="with --finetune: only this persona's conversations")
    exporter.set_defaults(run=export_command)
    wiper = commands.add_parser(
        "wipe",
        parents=[common],
        help="erase all conversations, memories, your personas and profile (asks for --yes)",
        description="Erase everything you created: conversations, memories, your personas and profile. "
        "Built-in characters stay. The database is vacuumed so nothing lingers in the file.",
    )
    wiper.add_argument("--yes", action="store_true", help="really do it")
    wiper.set_defaults(run=wipe_command)


def _context(settings: Settings):
    from avatar.context import create_context

    return create_context(settings)


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    from avatar.privacy import data_controls

    out: Path = args.out
    if not out.parent.is_dir():
        print(f"Cannot export to {out}: there is no folder {out.parent}.", file=sys.stderr)
        return 2
    ctx = _context(settings)
    if args.finetune:
        count = data_controls.export_finetune_jsonl(ctx, out, args.persona)
        print(f"{out}: {count} conversations")
    else:
        print(data_controls.export_archive(ctx, out))
    return 0


def wipe_command(settings: Settings, args: argparse.Namespace) -> int:
    from avatar.privacy import data_controls

    if not args.yes:
        print("This erases all your conversations, memories, personas and profile. Run again with --yes.")
        return 2
    data_controls.wipe_everything(_context(settings))
    print(f"Erased everything in {settings.data_dir} (built-in characters stay).")
    return 0
