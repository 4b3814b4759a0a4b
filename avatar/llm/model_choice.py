"""The model picked in the Chat tab, remembered per provider in <data-dir>/model_choice.yaml.

Per provider: an Ollama model name means nothing to an OpenAI-compatible server and the other way
round, so switching --provider must not carry a choice across. At startup an explicit --model /
AVATAR_MODEL wins over the remembered choice, which wins over the default (see `startup_model`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import yaml

from avatar.core.errors import AvatarError
from avatar.core.files import atomic_write_text
from avatar.core.settings import Settings

log = logging.getLogger(__name__)

FILE_NAME = "model_choice.yaml"
HEADER = "# The model picked in the Chat tab, per provider. --model / AVATAR_MODEL win over it.\n"


class ModelChoice:
    """get() and save() of the remembered model for each provider."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ModelChoice:
        return cls(Path(data_dir) / FILE_NAME)

    def get(self, provider: str) -> str | None:
        model = self._read().get(provider)
        return model if isinstance(model, str) and model.strip() else None

    def save(self, provider: str, model: str) -> None:
        """Remember `model` for `provider`; AvatarError says why it could not be written."""
        with self._lock:
            choices = {**self._read(), provider: model}
            text = HEADER + yaml.safe_dump(choices, sort_keys=True, allow_unicode=True)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(self.path, text)
            except OSError as error:
                raise AvatarError(
                    f"Could not remember the model choice in {self.path} ({error.strerror or error}); "
                    "it is used until the app stops. Check that the data directory is writable."
                ) from None

    def _read(self) -> dict[str, object]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            # A damaged file only costs the remembered choice: the default model is used, and the next pick rewrites it.
            log.warning("%s ignored (%s): using the configured model", self.path, type(error).__name__)
            return {}
        return data if isinstance(data, dict) else {}


def startup_model(settings: Settings, remembered: ModelChoice) -> str:
    """--model / AVATAR_MODEL (set explicitly) > the model picked in the Chat tab > the default."""
    if "model" in settings.model_fields_set:
        return settings.model
    return remembered.get(settings.provider) or settings.model
