"""Personas: shipped YAML files load; a broken file is named with its field and the rest still work."""

from __future__ import annotations

import logging
import os
import shutil

from avatar.core.settings import PROJECT_ROOT
from avatar.personas.service import PersonaService

BUILTIN = PROJECT_ROOT / "personas"


def test_shipped_personas_load_and_are_distinct(tmp_path):
    service = PersonaService(BUILTIN, tmp_path)
    personas = service.list()
    assert len(personas) >= 3
    assert service.errors() == []
    assert len({p.name for p in personas}) == len(personas)
    assert len({p.greeting for p in personas}) == len(personas)
    for persona in personas:
        assert persona.builtin and persona.greeting and persona.description and persona.personality


def test_broken_file_names_the_file_and_the_field_and_others_still_load(tmp_path, caplog):
    builtin = tmp_path / "builtin"
    shutil.copytree(BUILTIN, builtin)
    (builtin / "typo.yaml").write_text("name: Typo\npersonallity: grumpy\n")
    (builtin / "noname.yaml").write_text("description: who am I\n")
    (builtin / "badyaml.yaml").write_text("name: [unclosed\n")
    (builtin / "badrate.yaml").write_text("name: Fast\nvoice:\n  rate: 99\n")
    service = PersonaService(builtin, tmp_path / "user")
    messages = {e.path.split("/")[-1]: e.message for e in service.errors()}
    assert "field 'personallity' is not a persona field" in messages["typo.yaml"]
    assert "field 'name' is required" in messages["noname.yaml"]
    assert "not valid YAML at line" in messages["badyaml.yaml"]
    assert "voice.rate" in messages["badrate.yaml"]
    assert len(service.list()) >= 3
    # The log says it too, for whoever starts the app from a terminal.
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("typo.yaml" in line and "personallity" in line for line in logged)


def test_user_file_overrides_builtin_and_disk_edits_are_picked_up(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    service = PersonaService(BUILTIN, user)
    assert service.get("aria").builtin
    path = user / "aria.yaml"
    path.write_text("name: Aria Edited\ngreeting: Yo\n")
    assert service.get("aria").name == "Aria Edited"
    assert not service.get("aria").builtin
    path.write_text("name: Aria Again\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert service.get("aria").name == "Aria Again"
