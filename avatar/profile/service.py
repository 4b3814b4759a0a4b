"""The profile on disk: <data-dir>/profile.yaml, written atomically, re-read when it changes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import yaml
from pydantic import ValidationError

from avatar.core.errors import InvalidInputError
from avatar.core.files import atomic_write_bytes, atomic_write_text
from avatar.profile.schemas import UserProfile

log = logging.getLogger(__name__)

FIELD_LABELS = {"name": "Your name", "about_me": "About me"}


class ProfileService:
    """get() and save() for the one user profile. `default_name` is used while the profile has no name."""

    def __init__(self, path: Path, default_name: str = "User") -> None:
        self.path = Path(path)
        self.default_name = default_name
        self._cached: tuple[tuple[int, int] | None, UserProfile] = (None, UserProfile())
        self._lock = threading.Lock()
        self.problem = ""  # why the file on disk could not be used, for the UI to show

    @classmethod
    def for_data_dir(cls, data_dir: Path, default_name: str = "User") -> ProfileService:
        return cls(Path(data_dir) / "profile.yaml", default_name)

    def get(self) -> UserProfile:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self.problem = ""
            return UserProfile()
        stamp = (info.st_mtime_ns, info.st_size)
        if self._cached[0] == stamp:
            return self._cached[1]
        profile = self._read()
        self._cached = (stamp, profile)
        return profile

    def user_name(self) -> str:
        """What {{user}} becomes: the profile's name, or the default name."""
        return self.get().name or self.default_name

    def about_me(self) -> str:
        return self.get().about_me

    def save(self, name: str, about_me: str) -> UserProfile:
        """Validate and write the profile; InvalidInputError names the field in one line."""
        try:
            profile = UserProfile(name=name or "", about_me=about_me or "")
        except ValidationError as error:
            item = error.errors()[0]
            field = FIELD_LABELS.get(str(item["loc"][0]) if item["loc"] else "", "Profile")
            raise InvalidInputError(f"{field}: {item['msg'].removeprefix('Value error, ')}.") from None
        text = yaml.safe_dump(profile.model_dump(), sort_keys=False, allow_unicode=True, width=100)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, text)
        self._cached = (None, profile)
        self.problem = ""
        return profile

    @property
    def picture_path(self) -> Path:
        """Your picture, shown beside your messages: profile.png beside profile.yaml (optional)."""
        return self.path.with_name("profile.png")

    def picture(self) -> Path | None:
        return self.picture_path if self.picture_path.is_file() else None

    def save_picture(self, data: bytes | None) -> None:
        """Store `data` (any common image format, converted to PNG) as your picture; None removes it.
        InvalidInputError: it is not a picture that can be read."""
        from avatar.personas.images import normalise_image  # Pillow: only when a picture is saved

        with self._lock:
            if data is None:
                self.picture_path.unlink(missing_ok=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(self.picture_path, normalise_image(data))

    def _read(self) -> UserProfile:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            profile = UserProfile.model_validate(data)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as error:
            self.problem = f"{self.path.name} could not be read ({type(error).__name__}); using an empty profile."
            log.warning("profile ignored: %s", self.problem)
            return UserProfile()
        self.problem = ""
        return profile
