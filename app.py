"""Local Avatar: `python app.py` starts the app on http://127.0.0.1:7860 (see --help)."""

from __future__ import annotations

import os
import sys

# Before anything imports gradio or huggingface_hub: no analytics, no telemetry, ever.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
if "--offline" in sys.argv or os.environ.get("AVATAR_OFFLINE", "").lower() in ("1", "true", "yes"):
    # The hubs' own switches, so no library downloads behind our back either.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"

import argparse
import logging
import warnings
from pathlib import Path

from pydantic import ValidationError

from avatar.core import scratch
from avatar.core.errors import AvatarError
from avatar.core.logging import configure_logging
from avatar.core.settings import Settings
from avatar.voice import cli as voice_cli

log = logging.getLogger("avatar")
# Gradio 5.50 warns at every start that api_name=False goes away in Gradio 6, whose replacement does not exist
# in 5; FastRTC keeps us on 5 (see pyproject). Nothing a user can act on.
warnings.filterwarnings("ignore", message="Setting 'api_name=False'", category=DeprecationWarning)


def common_flags() -> argparse.ArgumentParser:
    """Flags shared by the app and every subcommand (`python app.py SUBCOMMAND ... --data-dir D`)."""
    flags = argparse.ArgumentParser(add_help=False)
    # default=SUPPRESS: a flag the user did not give leaves the AVATAR_* environment / default in force.
    s = argparse.SUPPRESS
    flags.add_argument("--port", type=int, default=s, help="port to serve on (default 7860)")
    flags.add_argument(
        "--data-dir", type=Path, default=s, help="where the database and your files live (default: data/ beside app.py)"
    )
    flags.add_argument(
        "--ollama-host", default=s, help="Ollama server (default: $OLLAMA_HOST or http://127.0.0.1:11434)"
    )
    flags.add_argument("--model", default=s, help="model name (default llama3.2:3b)")
    flags.add_argument("--provider", choices=["ollama", "openai"], default=s, help="model server kind (ollama)")
    flags.add_argument("--openai-base-url", default=s, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    flags.add_argument("--context-tokens", type=int, default=s, help="model context size in tokens (8192)")
    flags.add_argument(
        "--keep-alive",
        default=s,
        help="how long Ollama keeps the model loaded after each request: 1h (default), 30m, -1 for ever, 0 to unload",
    )
    flags.add_argument(
        "--card-idle-s",
        type=float,
        default=s,
        help="memory cards are made once a conversation has been quiet this long, in seconds (default 120)",
    )
    flags.add_argument(
        "--log-prompts", action="store_true", default=s, help="allow message text in the logs (off by default)"
    )
    flags.add_argument(
        "--lan", action="store_true", default=s, help="share on the home network: HTTPS and a login (off by default)"
    )
    flags.add_argument("--auth", default=s, metavar="USER:PASSWORD", help="the LAN login (default: generated)")
    flags.add_argument("--ssl-certfile", type=Path, default=s, help="your own certificate for --lan")
    flags.add_argument("--ssl-keyfile", type=Path, default=s, help="its private key")
    flags.add_argument(
        "--offline", action="store_true", default=s, help="never download models; report what is missing"
    )
    flags.add_argument(
        "--embedding-model",
        default=s,
        help="memory's sentence-transformers model: a name or a local folder (BAAI/bge-small-en-v1.5; 384-d)",
    )
    voice_cli.add_flags(flags)
    return flags


def subcommand_features() -> list:
    """The features that add subcommands; each has add_parsers(commands, common) and sets args.run."""
    from avatar.expressions import cli as expressions_cli
    from avatar.memory import cli as memory_cli
    from avatar.personas import cli as personas_cli
    from avatar.privacy import cli as privacy_cli
    from avatar.worlds import cli as worlds_cli

    return [personas_cli, expressions_cli, worlds_cli, privacy_cli, memory_cli]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Local Avatar: chat by text or voice with characters that remember you. Runs on your computer only.",
        parents=[common_flags()],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="(none: start the app)")
    for feature in subcommand_features():
        feature.add_parsers(commands, common_flags())
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {action.dest for action in common_flags()._actions}
    overrides = {key: value for key, value in vars(args).items() if key in flags}
    return Settings(**overrides)


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
        return args.run(settings, args)
    configure_logging(settings.log_level, settings.log_prompts)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        scratch.use_data_dir(settings.data_dir)  # before Gradio is imported: its temp files go there
        scratch.hold_libraries_temp_files()
    except OSError as error:  # a file, a read-only disk, no permission: one line, not a traceback
        why = "it is a file" if settings.data_dir.is_file() else (error.strerror or str(error))
        print(
            f"Cannot use the data directory {settings.data_dir} ({why}). Choose another with --data-dir.",
            file=sys.stderr,
        )
        return 2

    from avatar.app import build_app, launch
    from avatar.privacy.lan import prepare_lan

    try:
        lan = prepare_lan(settings)  # before building: a bad --auth or certificate should stop us early
    except AvatarError as error:
        print(error.message, file=sys.stderr)
        return 2
    demo = build_app(settings)
    if lan is None:
        print(f"Local Avatar is running at http://{settings.host}:{settings.port}  (Ctrl+C to stop)", flush=True)
    else:
        print(lan.announcement(settings.port), flush=True)
    launch(demo, settings, lan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
