"""A self-signed certificate for LAN mode: browsers allow the microphone only on HTTPS (or localhost)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from avatar.core.files import atomic_write_bytes


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path
    fingerprint_sha256: str  # what the user compares when the browser warns about the certificate


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses on the local network (best effort, no traffic sent)."""
    addresses: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(str(info[4][0]))
    except OSError:
        pass
    # Connecting a UDP socket sends nothing; it only asks the kernel which interface would route there.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.168.255.255", 1))
            addresses.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in addresses if not a.startswith("127."))


def fingerprint(cert_pem: bytes) -> str:
    digest = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def ensure_certificate(directory: Path, hostnames: list[str] | None = None) -> Certificate:
    """The certificate in `directory`, made once (valid ten years) and reused so phones trust it once."""
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return Certificate(cert_path, key_path, fingerprint(cert_path.read_bytes()))
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    for host in ["127.0.0.1", *lan_addresses(), *(hostnames or [])]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Local Avatar")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created owner-only: a umask for the write, not a chmod after it, so it is never readable by others.
    previous_umask = os.umask(0o077)
    try:
        atomic_write_bytes(key_path, key_pem)
    finally:
        os.umask(previous_umask)
    atomic_write_bytes(cert_path, cert_pem)
    return Certificate(cert_path, key_path, fingerprint(cert_pem))
