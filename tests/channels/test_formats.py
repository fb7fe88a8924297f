"""Escaping per format and the shortener: pure functions, table-driven."""

from __future__ import annotations

import re
import unicodedata

import pytest

from distributor.channels.adapters.formats import (
    discord_markdown,
    fence_markers,
    html_to_plain,
    measure,
    slack_mrkdwn,
    telegram_html,
    utf16_length,
    whatsapp,
)
from distributor.channels.shorten import ELLIPSIS, shorten
from distributor.errors import TooLong
from tests.channels.fake_telegram import telegram_parse
from tests.channels.reading import (
    slack_blocks,
    slack_check_mrkdwn,
    slack_pings,
    strip_zwsp,
    whatsapp_blocks,
    whatsapp_spans,
)

NASTY = ["a < b && c > d", "*bold* _it_ ~s~ `c`", "5*3=15 a_b snake_case_name", "**x** __y__",
         "😀👩‍👩‍👧🇮🇳", "हिन्दी क्षत्रिय", "한국어 문장", "# - > 1. [a](b) @everyone <@1>",
         "&amp; &lt; already escaped", ""]


@pytest.mark.parametrize("text", NASTY)
def test_telegram_html_shows_exactly_the_text(text):
    assert telegram_parse(f"<b>{telegram_html(text)}</b>") == text


@pytest.mark.parametrize("text", NASTY)
def test_whatsapp_text_has_no_formatting_of_its_own_and_reads_the_same(text):
    fenced = fence_markers(text)
    assert strip_zwsp(fenced) == text
    assert whatsapp_spans(fenced) == []
    assert whatsapp_spans(f"*{fenced}*") == ([("*", fenced)] if text else [])


@pytest.mark.parametrize("text", NASTY)
def test_slack_mrkdwn_escapes_angle_brackets_and_ampersands(text):
    escaped = slack_mrkdwn(text)
    slack_check_mrkdwn(escaped)
    assert whatsapp_spans(escaped) == []
    plain = strip_zwsp(escaped).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert plain == text


@pytest.mark.parametrize("text", NASTY)
def test_discord_markdown_escapes_read_back_as_the_text(text):
    escaped = discord_markdown(text)
    assert re.sub(r"\\(.)", r"\1", escaped) == text
    assert not re.search(r"(?<!\\)[*_~`|]", escaped)


def test_lengths_are_counted_as_the_services_count():
    assert utf16_length("😀") == 2 and utf16_length("क्ष") == 3
    assert measure("<b>a &amp; b</b>", "telegram-html") == 5
    assert measure("a &amp; b", "slack-mrkdwn") == 9


URL = "https://news.example.org/a_b?x=1&y=2"
LINK_LINES = {
    "telegram-html": f'<a href="{URL.replace("&", "&amp;")}">Read more</a>',
    "whatsapp": URL,
    "slack-mrkdwn": f"<{URL}|Read more>",
    "discord-markdown": URL,
}
WORDS = {
    "telegram-html": "क्षत्रिय &amp; 한국어 &lt;tag&gt; 😀",
    "whatsapp": "क्षत्रिय \u200b*\u200b 한국어 & 👩‍👩‍👧",
    "slack-mrkdwn": "क्षत्रिय &amp; 한국어 &lt;x&gt; 😀",
    "discord-markdown": "क्षत्रिय \\* 한국어 \\_ 👩‍👩‍👧",
}
TITLE = {"telegram-html": ("<b>", "</b>"), "whatsapp": ("*", "*"),
         "slack-mrkdwn": ("*", "*"), "discord-markdown": ("**", "**")}


@pytest.mark.parametrize("fmt", list(LINK_LINES))
@pytest.mark.parametrize("limit", [60, 97, 200, 1000])
def test_shortened_text_fits_keeps_its_link_and_cuts_between_words(fmt, limit):
    opening, closing = TITLE[fmt]
    title = opening + " ".join([WORDS[fmt]] * 40) + closing
    text = f"{title}\n\n{' '.join([WORDS[fmt]] * 200)}\n\n{LINK_LINES[fmt]}"
    short = shorten(text, limit, fmt, keep=[URL, URL.replace("&", "&amp;")])

    assert measure(short, fmt) <= limit
    assert short.endswith("\n\n" + LINK_LINES[fmt])
    head = short[: -len(LINK_LINES[fmt])].rstrip()
    if head.startswith(title + "\n\n"):  # the title fits: the cut is in the body
        source, cut = text[len(title) + 2:], head[len(title) + 2:-len(ELLIPSIS)]
    elif head:
        assert head.startswith(opening) and head.endswith(ELLIPSIS + closing)
        source, cut = title[len(opening):], head[len(opening):-len(ELLIPSIS + closing)]
    if head:
        assert source.startswith(cut)
        # between words; inside one only when not even the first word fits
        assert source[len(cut)] == " " or " " not in cut
    if fmt == "telegram-html":
        telegram_parse(short)
    if fmt == "whatsapp":
        assert len(whatsapp_spans(short)) == (1 if head else 0)


def test_one_long_word_is_cut_between_graphemes_not_inside_one():
    word = "क्षत्रिय" * 30 + "👩‍👩‍👧" * 10
    for limit in range(5, 80, 3):
        short = shorten(word, limit, "whatsapp")
        assert utf16_length(short) <= limit
        kept = short[:-1]
        assert word.startswith(kept)
        rest = word[len(kept):]
        assert not unicodedata.category(rest[0]).startswith("M")
        assert not kept.endswith(("\u094d", "\u200d"))


def test_a_cut_never_splits_an_entity_or_escape():
    for limit in range(3, 30):
        short = shorten("&amp;" * 30, limit, "telegram-html")
        assert re.fullmatch(r"(&amp;)*" + ELLIPSIS, short), short
        short = shorten("\\*" * 30, limit, "discord-markdown")
        assert re.fullmatch(r"(\\\*)*" + ELLIPSIS, short), short


def test_an_open_telegram_tag_is_closed_after_the_cut():
    text = "<b>bold <i>" + "word " * 100 + "</i></b>\n" + f'<a href="{URL}">x</a>'
    short = shorten(text, 50, "telegram-html", keep=[URL])
    assert telegram_parse(short)
    assert "</i></b>\n<a " in short
    assert html_to_plain(short).endswith("\nx")


def test_a_headline_link_is_kept_and_the_text_after_it_shortened():
    text = f"*<{URL}|Big news &amp; more>*\n\n" + "word " * 300 + "\n\nby the desk"
    short = shorten(text, 100, "slack-mrkdwn", keep=[URL])
    assert short.startswith(f"*<{URL}|Big news &amp; more>*\n\nword ")
    assert short.endswith(ELLIPSIS) and measure(short, "slack-mrkdwn") <= 100


def test_a_link_line_longer_than_the_limit_cannot_be_shortened():
    with pytest.raises(TooLong):
        shorten("intro\n" + "https://x.org/" + "a" * 100, 50, "whatsapp", keep=["https://x.org/"])


CJK_TEXTS = {
    "zh": "据报道，两国外长在首尔举行会谈，讨论了地区安全与经济合作等议题。" * 200,
    "ja": "両国の外相はソウルで会談し、地域の安全保障と経済協力について協議した。" * 200,
    "th": "รัฐมนตรีต่างประเทศของทั้งสองประเทศได้พบกันที่กรุงโซลเพื่อหารือเรื่องความมั่นคง" * 100,
}


@pytest.mark.parametrize("fmt", list(LINK_LINES))
@pytest.mark.parametrize("lang", list(CJK_TEXTS))
def test_text_without_spaces_keeps_its_summary_cut_between_graphemes(fmt, lang):
    import regex

    opening, closing = TITLE[fmt]
    summary = CJK_TEXTS[lang]
    text = f"{opening}标题{closing}\n\n{summary}\n\n{LINK_LINES[fmt]}"
    limit = 4096 if fmt != "discord-markdown" else 2000
    short = shorten(text, limit, fmt, keep=[URL, URL.replace("&", "&amp;")])

    assert measure(short, fmt) <= limit
    body = short.split("\n\n")[1]
    assert body.endswith(ELLIPSIS)
    kept = body[:-1]
    assert summary.startswith(kept)
    assert measure(kept, fmt) > limit * 0.8, "the summary was thrown away"
    graphemes = {m.end() for m in regex.finditer(r"\X", summary)}
    assert len(kept) in graphemes, "cut inside a grapheme"


SUMMARY_URL = "https://example.org/files/_draft_/report*v2*.pdf?q=[1]&x=~y"


@pytest.mark.parametrize("escape", [whatsapp, slack_mrkdwn, discord_markdown],
                         ids=["whatsapp", "slack", "discord"])
def test_a_url_in_the_text_is_never_escaped(escape):
    out = escape(f"_see_ {SUMMARY_URL}. *now*")
    assert (f"<{SUMMARY_URL}>" if escape is slack_mrkdwn else SUMMARY_URL) in out, out
    if escape is not discord_markdown:
        assert whatsapp_spans(out) == []


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.mark.parametrize("line", ["> quoted", "- item", "* item", "1. first", "• dot"])
@pytest.mark.parametrize("escape", [whatsapp, slack_mrkdwn], ids=["whatsapp", "slack"])
def test_line_start_quote_and_list_markup_is_neutralised(escape, line):
    text = f"{line}\nintro\n{line}\n  {line}"
    out = escape(text)
    assert (slack_blocks if escape is slack_mrkdwn else whatsapp_blocks)(out) == [], out
    assert _unescape_slack(strip_zwsp(out)) == text


def test_slack_mentions_cannot_ping():
    out = slack_mrkdwn("Hello @channel, @here and @everyone <!channel>")
    assert slack_pings(out, verbatim=False, joiner_defuses=True) == []


def test_the_telegram_fake_reads_html_as_tdlib_does():
    """Guards the oracle itself: a bare & or > is text, unknown named entities stay as
    typed, tags are case-insensitive, span needs its class."""
    assert telegram_parse("a & b > c &mdash; &#8212; &quot;") == 'a & b > c &mdash; \u2014 "'
    assert telegram_parse("<B>x</b> <a href='u'>y</a>") == "x y"
    with pytest.raises(ValueError, match="tg-spoiler"):
        telegram_parse("<span>x</span>")
    with pytest.raises(ValueError, match="Unsupported start tag"):
        telegram_parse("a < b")
