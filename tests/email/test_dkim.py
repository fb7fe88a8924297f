"""DKIM: every email signed, h= covering From, Subject and the List-Unsubscribe pair,
checked by a DKIM verifier."""

from __future__ import annotations

import re
import subprocess

import dkim

from distributor.config import DkimConfig
from distributor.email.compose import compile_alert
from distributor.email.dkim import dkim_signer
from distributor.email.message import Recipient, WireBytes
from tests.email.test_message import ARTICLE, _wire_ready


def make_key(tmp_path):
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    import base64

    return key, base64.b64encode(public)


def test_emails_are_signed_and_verify(tmp_path, make_settings):
    key, public = make_key(tmp_path)
    settings = make_settings()
    settings = settings.model_copy(update={"file": settings.file.model_copy(update={
        "dkim": DkimConfig(key_file=key, selector="news", domain="news.example.org")})})
    compiled = compile_alert(settings, ARTICLE, "breaking", message_key="alert-1")
    raw = dkim_signer(settings)(compiled.fill(
        Recipient(1, "a@example.com", "A", "https://news.example.org/unsubscribe/t")))

    assert isinstance(raw, WireBytes) and _wire_ready(raw)  # still sent without a scan
    signature = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert signature.startswith("DKIM-Signature:")
    signed = re.search(r"h=([^;]+);", signature.replace("\r\n", "").replace(" ", "")).group(1)
    for header in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert header in signed.lower().split(":")

    def dns(name, timeout=5):
        assert name == b"news._domainkey.news.example.org."
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(raw, dnsfunc=dns)
    tampered = raw.replace(b"Subject: ", b"Subject: FREE MONEY ", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_a_missing_key_file_is_a_config_error(tmp_path):
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="cannot read"):
        DkimConfig(key_file=tmp_path / "nope.pem", selector="s", domain="example.org")


def test_dkim_tables_give_one_key_per_domain(tmp_path):
    from distributor.bootstrap import load_settings
    from distributor.email.dkim import key_for

    key, _ = make_key(tmp_path)
    config = tmp_path / "distributor.toml"
    config.write_text("".join(f'[[dkim]]\nkey_file = "{key}"\nselector = "s1"\ndomain = "{d}"\n\n'
                              for d in ("news.example.org", "brief.example.org")))
    settings = load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path), "DISTRIBUTOR_CONFIG": str(config)})
    assert key_for(settings, "brief.example.org").domain == "brief.example.org"
    assert key_for(settings, "mail.brief.example.org").domain == "brief.example.org"
    assert key_for(settings, "elsewhere.org").domain == "news.example.org"  # the first
