"""Persona files change on disk while the app reads them: a file that goes away mid-read is simply gone."""

from __future__ import annotations

import sys
import threading

from avatar.core.settings import PROJECT_ROOT
from avatar.personas.service import PersonaService


def test_listing_while_a_file_comes_and_goes_never_fails(tmp_path):
    # Another handler (or an editor) creating and deleting a persona while this one lists them: the
    # file can vanish between being listed and being looked at. No list() may fail because of it.
    service = PersonaService(PROJECT_ROOT / "personas", tmp_path)
    builtins = {persona.id for persona in service.list()}
    ghost = tmp_path / "ghost.yaml"
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            ghost.write_text("name: Ghost\n")
            ghost.unlink()

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so that the two really interleave
    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(400):  # (~16 ms each with the switch interval above; 1000 took 11-19 s)
            assert {persona.id for persona in service.list()} <= builtins | {"ghost"}
    finally:
        done.set()
        churner.join()
        sys.setswitchinterval(switch_interval)
    # Gone for good: no persona and no stale error about a file that was read half-written or vanished.
    assert {persona.id for persona in service.list()} == builtins and service.errors() == []
