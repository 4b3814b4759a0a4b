"""LAN mode: what `--lan` needs before the server starts (certificate, login) and what it prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avatar.core.errors import InvalidInputError
from avatar.core.settings import Settings
from avatar.privacy.auth import Credentials
from avatar.privacy.tls import Certificate, ensure_certificate, fingerprint, lan_addresses


@dataclass(frozen=True)
class LanSetup:
    credentials: Credentials
    certificate: Certificate
    password_generated: bool

    def announcement(self, port: int) -> str:
        urls = [f"https://{address}:{port}" for address in lan_addresses()] or [f"https://<this-computer>:{port}"]
        lines = [
            "Local Avatar is shared on your network (HTTPS, login required):",
            *(f"  {url}" for url in urls),
            f"  certificate fingerprint (SHA-256): {self.certificate.fingerprint_sha256}",
            "  Your browser will warn about the self-signed certificate: check the fingerprint, then accept it.",
        ]
        if self.password_generated:
            lines.append(
                f"  login: {self.credentials.username} / {self.credentials.password}"
                "  (shown once; pass --auth USER:PASSWORD to choose your own)"
            )
        else:
            lines.append(f"  login: {self.credentials.username} / the password you gave with --auth")
        return "\n".join(lines)


def prepare_lan(settings: Settings) -> LanSetup | None:
    """None without --lan. Raises InvalidInputError for a malformed --auth or missing certificate files."""
    if not settings.lan:
        return None
    if settings.auth:
        try:
            credentials, generated = Credentials.parse(settings.auth), False
        except ValueError as error:
            raise InvalidInputError(str(error)) from None
    else:
        credentials, generated = Credentials.generate(), True
    if settings.ssl_certfile or settings.ssl_keyfile:
        certificate = _given_certificate(settings.ssl_certfile, settings.ssl_keyfile)
    else:
        certificate = ensure_certificate(settings.tls_dir)
    return LanSetup(credentials, certificate, generated)


def _given_certificate(cert: Path | None, key: Path | None) -> Certificate:
    if not cert or not key:
        raise InvalidInputError("--ssl-certfile and --ssl-keyfile go together: give both.")
    for path in (cert, key):
        if not Path(path).is_file():
            raise InvalidInputError(f"Certificate file not found: {path}")
    try:
        return Certificate(Path(cert), Path(key), fingerprint(Path(cert).read_bytes()))
    except ValueError:
        raise InvalidInputError(f"{cert} is not a PEM certificate.") from None
