"""The fleet certificate authority and the certificates it issues.

Keys are ECDSA P-256 (small, fast on a Raspberry Pi, accepted by Mosquitto and OpenSSL).
Private keys are written with mode 0600 and never leave the directory they are made in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from protocol.v1.ids import is_valid_id

CLOUD_IDENTITY = "cloud.madoguchi"
"""Certificate CN of the control plane. It has a dot, so no kiosk id can ever equal it."""

ORGANIZATION = "madoguchi fleet"


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    cert_path: Path
    key_path: Path
    common_name: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create with 0600 from the start: a chmod after writing leaves a window.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class FleetCA:
    """A certificate authority kept in one directory (`ca.key`, `ca.crt`)."""

    def __init__(self, directory: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate):
        self.directory = directory
        self._key = key
        self.certificate = cert

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.crt"

    @classmethod
    def create(
        cls, directory: Path, *, name: str = "madoguchi fleet CA", days: int = 3650
    ) -> FleetCA:
        """Make a new CA in `directory`; refuses to overwrite an existing one."""
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "ca.key").exists():
            raise FileExistsError(f"a CA already exists in {directory}")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write_key(directory / "ca.key", key)
        _write_cert(directory / "ca.crt", cert)
        return cls(directory, key, cert)

    @classmethod
    def load(cls, directory: Path) -> FleetCA:
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / 'ca.key'} is not an EC private key")
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        return cls(directory, key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> FleetCA:
        if (directory / "ca.key").exists():
            return cls.load(directory)
        return cls.create(directory)

    def _issue(
        self,
        *,
        common_name: str,
        out_dir: Path,
        stem: str,
        server_names: tuple[str, ...] = (),
        days: int,
    ) -> IssuedCertificate:
        out_dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
        )
        if server_names:
            sans: list[x509.GeneralName] = []
            for name in server_names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    sans.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            usage = ExtendedKeyUsageOID.SERVER_AUTH
        else:
            usage = ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = IssuedCertificate(out_dir / f"{stem}.crt", out_dir / f"{stem}.key", common_name)
        _write_key(issued.key_path, key)
        _write_cert(issued.cert_path, cert)
        return issued

    def issue_kiosk(self, kiosk_id: str, out_dir: Path, *, days: int = 397) -> IssuedCertificate:
        """A client certificate whose CN is the kiosk id (the broker's ACL user name)."""
        if not is_valid_id(kiosk_id):
            raise ValueError(
                "kiosk id must be lower-case letters, digits and inner hyphens (max 63)"
            )
        return self._issue(common_name=kiosk_id, out_dir=out_dir, stem=kiosk_id, days=days)

    def issue_cloud(self, out_dir: Path, *, days: int = 397) -> IssuedCertificate:
        """The control plane's client certificate."""
        return self._issue(common_name=CLOUD_IDENTITY, out_dir=out_dir, stem="cloud", days=days)

    def issue_server(
        self, out_dir: Path, *, names: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 397
    ) -> IssuedCertificate:
        """The broker's server certificate for the given DNS names and IP addresses."""
        return self._issue(
            common_name=names[0], out_dir=out_dir, stem="broker", server_names=names, days=days
        )
