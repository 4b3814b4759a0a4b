"""Local Avatar: `python app.py` starts the app on http://127.0.0.1:7860 (see --help)."""

from __future__ import annotations

import os

# Before anything imports gradio or huggingface_hub: no analytics, no telemetry, ever.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["DO_NOT_TRACK"] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from pydantic import ValidationError  # noqa: E402

from avatar.core.logging import configure_logging  # noqa: E402
from avatar.core.settings import Settings  # noqa: E402

log = logging.getLogger("avatar")


def common_flags() -> argparse.ArgumentParser:
    """Flags shared by the app and every subcommand (`python app.py SUBCOMMAND ... --data-dir D`)."""
    flags = argparse.ArgumentParser(add_help=False)
    # default=SUPPRESS: a flag the user did not give leaves the AVATAR_* environment / default in force.
    s = argparse.SUPPRESS
    flags.add_argument("--port", type=int, default=s, help="port to serve on (default 7860)")
    flags.add_argument("--data-dir", type=Path, default=s, help="where the database and your files live (./data)")
    flags.add_argument(
        "--ollama-host", default=s, help="Ollama server (default: $OLLAMA_HOST or http://127.0.0.1:11434)"
    )
    flags.add_argument("--model", default=s, help="model name (default llama3.2:3b)")
    flags.add_argument("--provider", choices=["ollama", "openai"], default=s, help="model server kind (ollama)")
    flags.add_argument("--openai-base-url", default=s, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    flags.add_argument("--context-tokens", type=int, default=s, help="model context size in tokens (8192)")
    flags.add_argument(
        "--log-prompts", action="store_true", default=s, help="allow message text in the logs (off by default)"
    )
    return flags


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Local Avatar: chat by text or voice with characters that remember you. Runs on your computer only.",
        parents=[common_flags()],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="(none: start the app)")
    importer = commands.add_parser(
        "import-card",
        parents=[common_flags()],
        help="import a character card (.png or .json) as a persona; prints its id",
        description="Import a Character Card V1/V2/V3 (.png or .json) into <data-dir>/personas/ and print the new id.",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="the card file")
    exporter = commands.add_parser(
        "export-card",
        parents=[common_flags()],
        help="export a persona as a character card (.png or .json)",
        description="Write a persona as a Character Card: OUT ending in .png (V2 and V3 inside) or .json (V2).",
    )
    exporter.add_argument("id", metavar="ID", help="the persona's id (its file name without .yaml)")
    exporter.add_argument("out", type=Path, metavar="OUT", help="the card file to write: NAME.png or NAME.json")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {action.dest for action in common_flags()._actions}
    overrides = {key: value for key, value in vars(args).items() if key in flags}
    return Settings(**overrides)


def import_card_command(settings: Settings, file: Path) -> int:
    from avatar.core.errors import AvatarError
    from avatar.personas.service import PersonaService

    settings.user_personas_dir.mkdir(parents=True, exist_ok=True)
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
    from avatar.core.errors import AvatarError
    from avatar.personas.service import PersonaService

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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValidationError as error:
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"])
            print(f"Invalid setting {name}: {problem['msg']}", file=sys.stderr)
        return 2
    if args.command is not None:
        # The subcommands talk on stdout/stderr themselves: only warnings from the log.
        configure_logging("WARNING", settings.log_prompts)
        if args.command == "import-card":
            return import_card_command(settings, args.file)
        return export_card_command(settings, args.id, args.out)
    configure_logging(settings.log_level, settings.log_prompts)

    from avatar.app import build_app, launch

    demo = build_app(settings)
    print(f"Local Avatar is running at http://{settings.host}:{settings.port}  (Ctrl+C to stop)", flush=True)
    launch(demo, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
