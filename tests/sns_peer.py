"""A local stand-in for Amazon SNS's side of an HTTP subscription: a test CA, an RSA
signing certificate served over HTTPS (as SigningCertURL), messages signed the way
the SNS documentation says, and a SubscribeURL that records its visits.

Rules, from https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html:
- the string to sign is "Name\\nvalue\\n" for each field in byte order, Notification:
  Message, MessageId, Subject (only if present), Timestamp, TopicArn, Type;
  SubscriptionConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type;
- SignatureVersion 1 signs with SHA1withRSA, 2 with SHA256withRSA; Signature is base64;
- SigningCertURL is https and points at a PEM certificate.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.peers import QuietHTTPServer

SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
}


def _certificate(subject: str, key, issuer_name: str, issuer_key, ca: bool = False,
                 san: str | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SNS:
    """Start with `with SNS(tmp) as sns:`; `sns.ca_file` is what clients must trust."""

    def __init__(self, folder: Path, topic: str = "arn:aws:sns:us-east-1:123456789012:ses-bounces"):
        self.topic = topic
        self.folder = folder
        self.ca_key, self.signing_key, tls_key = _key(), _key(), _key()
        self.ca = _certificate("Test SNS CA", self.ca_key, "Test SNS CA", self.ca_key, ca=True)
        self.signing = _certificate("sns.amazonaws.com", self.signing_key, "Test SNS CA", self.ca_key)
        tls = _certificate("127.0.0.1", tls_key, "Test SNS CA", self.ca_key, san="127.0.0.1")
        self.ca_file = folder / "sns-ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        (folder / "tls.pem").write_bytes(tls.public_bytes(serialization.Encoding.PEM))
        (folder / "tls.key").write_bytes(tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.visits: list[str] = []
        self.cert_fetches = 0
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith(".pem"):
                    peer.cert_fetches += 1
                    body = peer.signing.public_bytes(serialization.Encoding.PEM)
                else:
                    peer.visits.append(self.path)
                    body = b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "tls.pem", folder / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SNS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sign(self, message: dict, version: str = "1", cert_url: str | None = None) -> dict:
        message = {**message, "SignatureVersion": version,
                   "SigningCertURL": cert_url or f"{self.base}/SimpleNotificationService-test.pem"}
        text = "".join(f"{name}\n{message[name]}\n" for name in SIGNED[message["Type"]]
                       if name in message)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.signing_key.sign(text.encode(), padding.PKCS1v15(), digest)
        return {**message, "Signature": base64.b64encode(signature).decode()}

    def notification(self, ses_message: dict, version: str = "1", **changes) -> dict:
        return self.sign({"Type": "Notification", "MessageId": str(uuid.uuid4()),
                          "TopicArn": self.topic, "Message": json.dumps(ses_message),
                          "Timestamp": datetime.now(UTC).isoformat(), **changes}, version)

    def confirmation(self) -> dict:
        token = uuid.uuid4().hex
        return self.sign({"Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()),
                          "Token": token, "TopicArn": self.topic,
                          "Message": "You have chosen to subscribe to the topic.",
                          "SubscribeURL": f"{self.base}/?Action=ConfirmSubscription&Token={token}",
                          "Timestamp": datetime.now(UTC).isoformat()})
