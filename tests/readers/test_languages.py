"""A list in Hindi: its emails (dates by Babel, texts from the gettext catalog) and its
reader pages speak Hindi; English stays the default; the Hindi catalog has every text
the templates ask for."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from distributor.audience.lists import create_list, update_list
from distributor.errors import InvalidInput
from distributor.templates import BUILTIN
from tests.readers.test_preference_centre import manage_link


def catalog(language: str):
    with (BUILTIN / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def test_the_hindi_catalog_has_every_text_the_templates_ask_for():
    hindi = catalog("hi")
    asked = {message for *_, message, _, _ in extract_from_dir(
        str(BUILTIN), method_map=[("email/**.j2", "jinja2"), ("pages/**.j2", "jinja2")],
        options_map={"**.j2": {"extensions": "jinja2.ext.i18n"}})}
    assert len(asked) > 40
    missing = [m for m in asked if not (hindi.get(m[0] if isinstance(m, tuple) else m)
                                        and hindi.get(m[0] if isinstance(m, tuple) else m)
                                        .string)]
    assert missing == []
    english = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog("en") if m.id}
    assert english == {m.id if isinstance(m.id, str) else m.id[0] for m in hindi if m.id}


def test_a_hindi_list_mails_in_hindi_and_an_english_one_in_english(newsroom):
    create_list(newsroom.db, "samachar", instant=True, public=True, locale="hi_IN")
    asha = newsroom.reader("asha", "samachar")
    alice = newsroom.reader("alice")
    newsroom.publish("Monsoon arrives early")
    hindi = newsroom.mailed(asha)[-1].get_body(("plain",)).get_content()
    english = newsroom.mailed(alice)[-1].get_body(("plain",)).get_content()
    assert "पूरी ख़बर पढ़ें" in hindi and "सदस्यता छोड़ें" in hindi
    month = "नवंबर दिसंबर जनवरी फ़रवरी मार्च अप्रैल मई जून जुलाई अगस्त सितंबर अक्तूबर".split()
    assert any(m in hindi for m in month)
    assert "Read the full story" in english and "Unsubscribe" in english
    assert not any(m in english for m in month)
    html = newsroom.mailed(asha)[-1].get_body(("html",)).get_content()
    assert 'lang="hi"' in html and "अपनी सदस्यता प्रबंधित करें" in html


def test_the_reader_pages_of_a_hindi_list_speak_hindi(newsroom):
    create_list(newsroom.db, "samachar", instant=True, public=True, locale="hi_IN")
    asha = newsroom.reader("asha", "samachar")
    newsroom.publish("Monsoon arrives early")
    client = newsroom.client()
    signup = client.get("/lists/samachar/subscribe")
    assert 'lang="hi"' in signup.text and "samachar की सदस्यता लें" in signup.text
    assert "ईमेल पता" in signup.text
    archive = client.get("/archive/samachar")
    assert "samachar के पिछले अंक" in archive.text
    manage = client.get(manage_link(newsroom.mailed(asha)[-1])
                        .removeprefix("https://news.example.org"))
    assert "आपकी सदस्यता" in manage.text and "मेरी पसंद सहेजें" in manage.text
    assert "हर ख़बर छपते ही (samachar)" in manage.text
    english = client.get("/lists/breaking/subscribe").text
    assert 'lang="en"' in english and "Email address" in english


def test_an_unknown_locale_is_refused_naming_the_field(newsroom):
    for bad in ("fr", "xx_YY", "hi_IN;x", "../../etc"):
        with pytest.raises(InvalidInput) as refused:
            update_list(newsroom.db, "breaking", locale=bad)
        assert "locale" in refused.value.fields
    assert update_list(newsroom.db, "breaking", locale="hi-IN").locale == "hi_IN"
