"""`python app.py import-card FILE` and `python app.py export-card ID OUT`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from avatar.core.settings import PROJECT_ROOT
from avatar.personas.cards import parse_card
from avatar.personas.service import PersonaService

from .cardkit import b64json, png, v2_card

BUILTIN = PROJECT_ROOT / "personas"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py"), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_import_card_prints_the_id_and_the_persona_is_listed(tmp_path):
    data = tmp_path / "data"
    card = tmp_path / "Seraphina.png"
    card.write_bytes(png({"chara": b64json(v2_card())}))
    done = run("import-card", str(card), "--data-dir", str(data))
    assert (done.returncode, done.stdout, done.stderr) == (0, "seraphina\n", "")
    persona = PersonaService(BUILTIN, data / "personas").get("seraphina")
    assert persona.name == "Seraphina" and persona.image == "seraphina.png"
    assert persona.post_history_instructions.startswith("Stay in the first person")


def test_export_card_writes_a_png_that_imports_again(tmp_path):
    data = tmp_path / "data"
    out = tmp_path / "vega.png"
    done = run("--data-dir", str(data), "export-card", "captain-vega", str(out))  # flags before the command too
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert parse_card(out.read_bytes(), "vega.png").persona.name == "Captain Vega"
    done = run("import-card", str(out), "--data-dir", str(data))
    assert (done.returncode, done.stdout) == (0, "captain-vega-2\n")
    assert PersonaService(BUILTIN, data / "personas").get("captain-vega-2").name == "Captain Vega"
    json_out = tmp_path / "vega.json"
    assert run("export-card", "captain-vega", str(json_out), "--data-dir", str(data)).returncode == 0
    assert json.loads(json_out.read_text())["spec"] == "chara_card_v2"


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    data = tmp_path / "data"
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    cases = {
        ("import-card", str(bad)): "Cannot import",
        ("import-card", str(tmp_path / "missing.png")): "There is no file missing.png.",
        ("export-card", "nobody", str(tmp_path / "x.png")): "there is no such persona",
        ("export-card", "aria", str(tmp_path / "x.txt")): "must end in .png or .json",
    }
    for args, expected in cases.items():
        done = run(*args, "--data-dir", str(data))
        assert done.returncode == 2, args
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stdout == ""
    assert not (data / "personas").exists() or list((data / "personas").iterdir()) == []


def test_a_data_dir_that_is_a_file_is_one_line_and_exit_code_2(tmp_path):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file, not a folder")
    card = tmp_path / "Seraphina.png"
    card.write_bytes(png({"chara": b64json(v2_card())}))
    done = run("import-card", str(card), "--data-dir", str(not_a_folder))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Cannot import {card}: cannot use {not_a_folder / 'personas'} (Not a directory)."
    ]
