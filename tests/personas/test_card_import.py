"""Importing a card writes a user persona (YAML + picture) that the app lists; all of it, or none of it."""

from __future__ import annotations

import errno
import json
import os

import pytest
import yaml

from avatar.core.errors import AvatarError
from avatar.core.settings import PROJECT_ROOT
from avatar.personas import repository
from avatar.personas.card_format import CardError
from avatar.personas.cards import export_card, import_card, parse_card, read_card_extras, read_lore
from avatar.personas.schemas import PersonaFile
from avatar.personas.service import PersonaService

from .cardkit import b64json, decode_b64json, png, png_texts, v2_card, v3_card

BUILTIN = PROJECT_ROOT / "personas"


@pytest.fixture
def user_dir(tmp_path):
    return tmp_path / "data" / "personas"


@pytest.fixture
def service(user_dir):
    return PersonaService(BUILTIN, user_dir)


def existing(service: PersonaService) -> set[str]:
    return {persona.id for persona in service.list()}


def test_imported_png_card_is_listed_by_the_service(tmp_path, user_dir, service):
    card_path = tmp_path / "Seraphina.png"
    card_path.write_bytes(png({"chara": b64json(v2_card())}))
    persona_id = import_card(card_path, user_dir, existing(service))
    assert persona_id == "seraphina"
    assert sorted(p.name for p in user_dir.iterdir()) == ["seraphina.card.json", "seraphina.png", "seraphina.yaml"]

    persona = service.get("seraphina")
    assert persona in service.list() and not persona.builtin
    assert service.errors() == []
    assert persona.image == "seraphina.png"
    expected = parse_card(card_path.read_bytes()).persona
    assert persona.model_dump(exclude={"id", "builtin", "image"}) == expected.model_dump(exclude={"image"})
    # The stored picture is the card's picture, without the card inside it.
    assert "chara" not in png_texts((user_dir / "seraphina.png").read_bytes())


def test_yaml_is_human_readable(user_dir, service):
    persona_id = import_card(json.dumps(v2_card()).encode(), user_dir, existing(service))
    text = (user_dir / f"{persona_id}.yaml").read_text(encoding="utf-8")
    assert text.startswith("name: Seraphina\n")
    assert "description: |" in text  # long text as a block, not one escaped line
    assert "example_dialogues:\n- |" in text
    assert "\\n" not in text
    assert "memory_policy" not in text  # defaults are left out
    assert yaml.safe_load(text)["greeting"] == "*Seraphina smiles.* You're awake, {{user}}. How do you feel?"
    assert not (user_dir / f"{persona_id}.png").exists()  # a JSON card has no picture


TRICKY_TEXTS = [
    "  leading spaces\nand a trailing space \n",
    "tabs\tinside\n\tand at a line start",
    "---\n...\n# not a comment\nkey: value\n- not a list",
    "ends without newline\n\n\n",
    "\nstarts with a newline",
    "quotes ' and \" and {{user}}: hi",
    "ünïcödé, 漢字 and emoji 🎉\nsecond line",
    "yes",
    "0123",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_yaml_keeps_tricky_text_exactly(tmp_path, text):
    persona = PersonaFile(name="Tricky", description=text, example_dialogues=[text or "x"], tags=[text or "t"])
    repository.save_persona(tmp_path, "tricky", persona)
    loaded = repository.load_persona(tmp_path / "tricky.yaml", builtin=False)
    assert loaded.model_dump(include=set(PersonaFile.model_fields)) == persona.model_dump()


def test_ids_never_clash_with_builtins_or_earlier_imports(user_dir, service):
    card = json.dumps(v2_card(name="Aria")).encode()
    assert import_card(card, user_dir, existing(service)) == "aria-2"
    assert import_card(card, user_dir, existing(service)) == "aria-3"
    assert service.get("aria").builtin  # the built-in is not overridden by an import
    assert {service.get("aria-2").name, service.get("aria-3").name} == {"Aria"}


def test_stray_files_are_not_adopted(user_dir, service):
    user_dir.mkdir(parents=True)
    (user_dir / "seraphina.png").write_bytes(b"someone else's picture")
    persona_id = import_card(png({"chara": b64json(v2_card())}), user_dir, existing(service))
    assert persona_id == "seraphina-2"
    assert (user_dir / "seraphina.png").read_bytes() == b"someone else's picture"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..\\..\\Windows\\win.ini", "/etc/passwd", "~/.ssh/id_rsa", "C:\\x"]
)
def test_a_name_that_is_a_path_is_refused_and_nothing_written(tmp_path, user_dir, service, name):
    with pytest.raises(CardError, match="looks like a file path") as refused:
        import_card(png({"chara": b64json(v2_card(name=name))}), user_dir, existing(service), filename="x.png")
    assert "\n" not in str(refused.value)
    assert not user_dir.exists() or list(user_dir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["data"])  # nothing outside it either


def test_a_slash_inside_a_name_is_a_name_with_a_safe_id(tmp_path, user_dir, service):
    persona_id = import_card(png({"chara": b64json(v2_card(name="AC/DC"))}), user_dir, existing(service))
    assert persona_id == "ac-dc"
    assert sorted(p.name for p in user_dir.iterdir()) == ["ac-dc.card.json", "ac-dc.png", "ac-dc.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert service.get("ac-dc").name == "AC/DC"  # the name is only a name


def test_bad_card_writes_nothing(user_dir, service):
    with pytest.raises(CardError):
        import_card(png({"chara": "%%%"}), user_dir, existing(service), filename="bad.png")
    assert not user_dir.exists() or list(user_dir.iterdir()) == []


@pytest.mark.parametrize("fail_on", ["yaml", "card.json", "png"])
def test_failure_while_saving_leaves_nothing_half_written(user_dir, service, monkeypatch, fail_on):
    # The disk fills up as one of the files is put in place (a new file is linked into place, never
    # renamed over another): everything before it, written for real, is taken back.
    real_link = os.link

    def link(source, target):
        if str(target).endswith(fail_on):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(AvatarError, match="Could not save the imported persona: No space left on device"):
        import_card(png({"chara": b64json(v2_card())}), user_dir, existing(service))
    assert list(user_dir.iterdir()) == []  # no picture, no extras, no temporary files
    assert "seraphina" not in existing(service)


def test_lore_is_kept_for_the_memory_feature(user_dir, service):
    persona_id = import_card(json.dumps(v3_card()).encode(), user_dir, existing(service))
    lore = read_lore(user_dir, persona_id)
    assert [entry.content for entry in lore] == [
        "The glade is hidden from outsiders by old magic.",
        "Seraphina never lies to a guest.",
    ]
    assert read_lore(user_dir, "aria") == []


def test_export_an_imported_persona_keeps_the_card_extras(tmp_path, user_dir, service):
    persona_id = import_card(png({"chara": b64json(v2_card())}, size=(30, 45)), user_dir, existing(service))
    persona = service.get(persona_id)
    out = export_card(persona, tmp_path / "out.png", user_dir)
    v2 = decode_b64json(png_texts(out.read_bytes())["chara"])
    assert v2["data"]["creator_notes"] == "Works best with a warm, descriptive model."
    assert v2["data"]["extensions"]["talkativeness"] == "0.5"
    again = parse_card(out.read_bytes(), "out.png")
    assert again.extras.model_dump(exclude={"spec"})["creator"] == "cardmaker"
    json_out = export_card(persona, tmp_path / "out.json", user_dir)
    assert json.loads(json_out.read_text())["data"]["character_book"]["name"] == "Glade lore"


def test_export_a_builtin_and_import_it_back(tmp_path, user_dir, service):
    aria = service.get("aria")
    out = export_card(aria, tmp_path / "aria.png", BUILTIN)
    assert read_card_extras(BUILTIN, "aria") is None
    new_id = import_card(out, user_dir, existing(service))
    assert new_id == "aria-2"
    copy = service.get(new_id)
    assert copy.name == aria.name and copy.greeting == aria.greeting and copy.voice == aria.voice
    assert copy.image == "aria-2.png"


def test_export_refuses_an_unknown_format(tmp_path, service):
    with pytest.raises(CardError, match="use .png or .json"):
        export_card(service.get("aria"), tmp_path / "aria.txt", BUILTIN)


def test_persona_image_path_never_leaves_the_directory(tmp_path, service):
    (tmp_path / "secret.png").write_bytes(b"x")
    inside = tmp_path / "personas"
    inside.mkdir()
    aria = service.get("aria")
    assert repository.persona_image_path(inside, aria.model_copy(update={"image": "../secret.png"})) is None
    assert repository.persona_image_path(inside, aria.model_copy(update={"image": "missing.png"})) is None
