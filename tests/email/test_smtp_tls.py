"""SMTP over TLS against a real server (aiosmtpd) with a certificate made for the test:
STARTTLS (RFC 3207) and implicit TLS (smtps, RFC 8314 section 3.3), each with AUTH
(RFC 4954) after TLS; a refused login is permanent and keeps the password out of the
error; a certificate nobody vouches for is refused, and nothing is sent."""

from __future__ import annotations

import ssl
import subprocess

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from distributor.email.transport import open_transport
from distributor.errors import DeliveryError, PermanentError
from tests.peers import SMTPServer

PASSWORD = "tls-s3cret"
MESSAGE = b"Subject: hi\r\nFrom: news@example.org\r\nTo: a@example.com\r\n\r\nhello\r\n"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 5.7.8 when not ok


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the openssl command line)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.fixture()
def trusted(certificate, monkeypatch):
    """The client trusts the test's certificate, as it would a real CA's (OpenSSL reads
    SSL_CERT_FILE when ssl.create_default_context loads the default paths)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    return certificate[1]


@pytest.fixture()
def starttls_server(trusted):
    # RFC 3207: STARTTLS offered; require_starttls refuses MAIL before it, and AUTH is
    # only offered after it (auth_require_tls, RFC 4954 section 4's advice).
    with SMTPServer(tls_context=trusted, require_starttls=True, auth_require_tls=True,
                    authenticator=_authenticator) as server:
        yield server


def send_one(url: str) -> None:
    connection = open_transport(url).connect()
    try:
        connection.send("news@example.org", "reader@example.com", MESSAGE)
    finally:
        connection.close()


def test_starttls_then_auth_delivers(starttls_server):
    send_one(f"smtp+starttls://news:{PASSWORD}@127.0.0.1:{starttls_server.port}")
    assert [m.rcpt_to for m in starttls_server.handler.messages] == ["reader@example.com"]


def test_a_refused_login_is_permanent_and_does_not_show_the_password(starttls_server):
    with pytest.raises(PermanentError, match="SMTP login refused: 535") as refused:
        send_one(f"smtp+starttls://news:wrong-{PASSWORD}@127.0.0.1:{starttls_server.port}")
    assert PASSWORD not in str(refused.value)
    assert starttls_server.handler.messages == []


def test_a_plain_connection_to_a_server_that_requires_starttls_sends_nothing(starttls_server):
    with pytest.raises(DeliveryError):
        send_one(f"smtp://127.0.0.1:{starttls_server.port}")
    assert starttls_server.handler.messages == []


def test_smtps_then_auth_delivers(trusted):
    with SMTPServer(ssl_context=trusted, auth_require_tls=False,
                    authenticator=_authenticator) as server:
        send_one(f"smtps://news:{PASSWORD}@127.0.0.1:{server.port}")
        assert [m.rcpt_to for m in server.handler.messages] == ["reader@example.com"]


def test_a_certificate_nobody_vouches_for_is_refused(certificate, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with SMTPServer(tls_context=certificate[1], require_starttls=True) as server:
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            send_one(f"smtp+starttls://127.0.0.1:{server.port}")
        assert server.handler.messages == []
