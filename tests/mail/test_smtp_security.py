"""SMTP over STARTTLS and over TLS from the start, with a login (AUTH PLAIN and AUTH LOGIN), against a
real aiosmtpd server on loopback holding a self-signed certificate made by the test (review of issue
15, item 6). The certificate and its name are checked (REGIEFLOW_SMTP_CA_FILE names the authority); a
certificate nobody vouches for, a server that offers no STARTTLS or a wrong password send nothing."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import select

from app.core.unit_of_work import UnitOfWorkFactory
from app.mail import service as mail
from app.mail.models import OutgoingMail
from tests.mail.smtp import Sink, free_port, text_of

# implicit TLS is encrypted though aiosmtpd does not count it as TLS for AUTH (only STARTTLS)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
USER, PASSWORD = "regieflow", "mot de passe SMTP très secret"


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, its own authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regieflow test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(cert_path, key_path)


@dataclass
class Logins:
    """What the server's authenticator saw: (mechanism, login) of each successful AUTH."""

    accepted: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        ):
            self.accepted.append((mechanism, auth_data.login.decode()))
            return AuthResult(success=True)
        self.refused += 1
        return AuthResult(success=False, handled=False)


@dataclass
class Server:
    sink: Sink
    logins: Logins
    port: int


def _start(certificate: Certificate, *, mode: str, mechanism: str | None) -> Iterator[Server]:
    sink, logins, port = Sink(), Logins(), free_port()
    kwargs: dict[str, Any] = {"authenticator": logins, "auth_required": mechanism is not None}
    if mechanism is not None:
        kwargs["auth_exclude_mechanism"] = [m for m in ("LOGIN", "PLAIN") if m != mechanism]
    if mode == "starttls":
        kwargs |= {"tls_context": certificate.server_context(), "require_starttls": True}
    elif mode == "tls":
        # implicit TLS: aiosmtpd does not see it as TLS for AUTH (only STARTTLS), yet it is encrypted
        kwargs |= {"ssl_context": certificate.server_context(), "auth_require_tls": False}
    else:  # plain: no STARTTLS offered; a login would go in clear, so aiosmtpd would refuse it anyway
        kwargs |= {"auth_require_tls": True}
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield Server(sink, logins, port)
    finally:
        controller.stop()


def _settings(app: Any, port: int, security: str, ca: Path | None, **more: Any) -> Any:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": security,
        "smtp_ca_file": str(ca) if ca else None,
        "smtp_timeout_seconds": 5.0,
    }
    return app.state.settings.model_copy(update=values | more)


def _queue_and_send(app: Any, settings: Any) -> tuple[mail.SendReport, OutgoingMail]:
    uows = UnitOfWorkFactory(app.state.session_factory, settings)
    with uows() as uow:
        mail_id = mail.queue(
            uow,
            app.state.clock,
            kind="password_reset",
            to="amina@exemple.fr",
            template="password_reset",
            context={"name": "Amina", "link": "http://127.0.0.1:8000/mot-de-passe/nouveau/abc", "minutes": 60},
            secret=True,
            settings=settings,
        )
        uow.commit()
    report = mail.send_due(uows, settings, app.state.clock)
    with app.state.session_factory() as s:
        row = s.scalars(select(OutgoingMail).where(OutgoingMail.id == mail_id)).one()
        s.expunge(row)
    return report, row


@pytest.mark.parametrize(
    ("security", "mechanism"), [("starttls", "PLAIN"), ("starttls", "LOGIN"), ("tls", "PLAIN"), ("tls", "LOGIN")]
)
def test_mail_goes_out_over_tls_with_a_login(app: Any, certificate: Certificate, security: str, mechanism: str) -> None:
    for server in _start(certificate, mode=security, mechanism=mechanism):
        settings = _settings(
            app, server.port, security, certificate.cert, smtp_user=USER, smtp_password=SecretStr(PASSWORD)
        )
        report, row = _queue_and_send(app, settings)
        assert report.sent == 1 and row.status == "sent", row.last_error
        assert server.logins.accepted == [(mechanism, USER)]
        (message,) = server.sink.to("amina@exemple.fr")
        assert "/mot-de-passe/nouveau/abc" in text_of(message)


def test_a_wrong_password_sends_nothing_and_says_why(app: Any, certificate: Certificate) -> None:
    for server in _start(certificate, mode="starttls", mechanism="PLAIN"):
        settings = _settings(
            app, server.port, "starttls", certificate.cert, smtp_user=USER, smtp_password=SecretStr("faux")
        )
        report, row = _queue_and_send(app, settings)
        assert report.sent == 0 and row.status == "pending" and server.sink.messages == []
        assert server.logins.refused == 1 and "535" in (row.last_error or "")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_certificate_nobody_vouches_for_is_refused(app: Any, certificate: Certificate, security: str) -> None:
    """Without the authority in REGIEFLOW_SMTP_CA_FILE the self-signed certificate is not trusted: no
    login, no mail (the password never reaches a server that may not be ours)."""
    for server in _start(certificate, mode=security, mechanism="PLAIN"):
        settings = _settings(app, server.port, security, None, smtp_user=USER, smtp_password=SecretStr(PASSWORD))
        report, row = _queue_and_send(app, settings)
        assert report.sent == 0 and row.status == "pending" and server.sink.messages == []
        assert server.logins.accepted == [] and server.logins.refused == 0
        assert "injoignable" in (row.last_error or "") or "SSL" in (row.last_error or "")


def test_starttls_asked_of_a_server_that_offers_none_sends_nothing_in_clear(app: Any, certificate: Certificate) -> None:
    for server in _start(certificate, mode="none", mechanism=None):
        settings = _settings(
            app, server.port, "starttls", certificate.cert, smtp_user=USER, smtp_password=SecretStr(PASSWORD)
        )
        report, row = _queue_and_send(app, settings)
        assert report.sent == 0 and row.status == "pending" and server.sink.messages == []
        assert server.logins.accepted == [] and "injoignable" in (row.last_error or "")
