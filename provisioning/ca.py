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
INTERMEDIATE_NAME = "madoguchi fleet intermediate CA"
CHAIN_FILE = "chain.crt"
"""In an intermediate's directory: the intermediate's certificate, then the root's."""


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


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _client_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


class FleetCA:
    """A certificate authority kept in one directory (`ca.key`, `ca.crt`).

    The root is kept offline: it signs only the intermediate (`create_intermediate`) and,
    rarely, its own CRL. The intermediate's directory also holds `chain.crt` (intermediate,
    then root); the control plane holds the intermediate's key and signs kiosk CSRs and the
    CRL with it. `issuers` are the certificates above this CA, the root last.
    """

    def __init__(
        self,
        directory: Path,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        issuers: tuple[x509.Certificate, ...] = (),
    ):
        self.directory = directory
        self._key = key
        self.certificate = cert
        self.issuers = issuers

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor: the broker's and the kiosks' `cafile`."""
        return self.issuers[-1] if self.issuers else self.certificate

    @property
    def is_intermediate(self) -> bool:
        return bool(self.issuers)

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
            .add_extension(_ca_usage(), critical=True)
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
        issuers: tuple[x509.Certificate, ...] = ()
        if (directory / CHAIN_FILE).exists():
            chain = x509.load_pem_x509_certificates((directory / CHAIN_FILE).read_bytes())
            issuers = tuple(chain[1:])
        return cls(directory, key, cert, issuers)

    @classmethod
    def load_or_create(cls, directory: Path) -> FleetCA:
        if (directory / "ca.key").exists():
            return cls.load(directory)
        return cls.create(directory)

    def create_intermediate(
        self, directory: Path, *, name: str = INTERMEDIATE_NAME, days: int = 1825
    ) -> FleetCA:
        """Sign an online intermediate CA kept in `directory` (the root stays offline: this
        is the only thing it signs besides its CRL). Refuses to overwrite one."""
        if self.is_intermediate:
            raise ValueError("only the root signs an intermediate (path length 0)")
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "ca.key").exists():
            raise FileExistsError(f"a CA already exists in {directory}")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        not_after = min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc)
        cert = (
            self._issued(name, key.public_key(), now, not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
            .sign(self._key, hashes.SHA256())
        )
        _write_key(directory / "ca.key", key)
        _write_cert(directory / "ca.crt", cert)
        (directory / CHAIN_FILE).write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, self.certificate))
        )
        _write_cert(directory / "root.crt", self.certificate)
        return FleetCA(directory, key, cert, (self.certificate,))

    def _issued(
        self,
        common_name: str,
        public_key: ec.EllipticCurvePublicKey,
        now: dt.datetime,
        not_after: dt.datetime,
    ) -> x509.CertificateBuilder:
        """What every certificate this CA issues starts from: our subject, this CA as issuer,
        a random serial, valid from five minutes ago (clock skew) to `not_after`."""
        return (
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
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(not_after)
        )

    def sign_client_csr(
        self, csr: x509.CertificateSigningRequest, *, common_name: str, days: float
    ) -> x509.Certificate:
        """A client certificate for the CSR's public key. Only the key is taken from the CSR:
        the subject is ours (`common_name`, checked by the caller) and none of its requested
        extensions are honoured."""
        now = _now()
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ValueError("the CSR's key is not an EC key")
        return (
            self._issued(
                common_name,
                public_key,
                now,
                min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc),
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_client_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
            .sign(self._key, hashes.SHA256())
        )

    def sign_crl(
        self,
        revoked: list[tuple[int, dt.datetime]],
        *,
        number: int,
        days: float = 30,
    ) -> x509.CertificateRevocationList:
        """A CRL of this CA listing the `(serial, revoked at)` pairs; valid for `days` (the
        broker refuses every client once it has expired: refresh it before)."""
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=days))
            .add_extension(x509.CRLNumber(number), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
        )
        for serial, at in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
            )
        return builder.sign(self._key, hashes.SHA256())

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
            self._issued(common_name, key.public_key(), now, now + dt.timedelta(days=days))
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
