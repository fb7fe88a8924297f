"""Links already in readers' mailboxes must keep working: the tokens we sign per reader
are exactly the ones itsdangerous's URLSafeSerializer makes and reads."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from distributor.audience.tokens import (
    click_token,
    email_digest,
    manage_token,
    read_click_token,
    read_manage_token,
    read_reader_token,
    read_token,
    reader_token,
    unsubscribe_token,
)

SECRET = "test-secret-key-0123456789abcdef"


@pytest.mark.parametrize("subscriber_id", [1, 123_456, 2**62])
def test_signed_links_are_the_ones_url_safe_serializer_makes(subscriber_id):
    prefix = email_digest("ravi@example.com")[:16]
    assert unsubscribe_token(SECRET, subscriber_id, 7, "ravi@example.com") == \
        URLSafeSerializer(SECRET, salt="unsubscribe").dumps([subscriber_id, 7, prefix])
    assert manage_token(SECRET, subscriber_id, "Ravi@Example.com ") == \
        URLSafeSerializer(SECRET, salt="manage").dumps([subscriber_id, prefix])
    assert reader_token(SECRET, subscriber_id) == \
        URLSafeSerializer(SECRET, salt="reader").dumps(subscriber_id)
    assert click_token(SECRET, subscriber_id, 3) == \
        URLSafeSerializer(SECRET, salt="click").dumps([subscriber_id, 3, "email"])


def test_signed_links_read_back_and_name_their_purpose():
    token = unsubscribe_token(SECRET, 42, 7, "ravi@example.com")
    assert read_token(SECRET, token, "unsubscribe") == (42, 7, email_digest("ravi@example.com")[:16])
    assert read_manage_token(SECRET, manage_token(SECRET, 42, "ravi@example.com"))[0] == 42
    assert read_reader_token(SECRET, reader_token(SECRET, 42)) == 42
    assert read_click_token(SECRET, click_token(SECRET, 5, 9, "telegram")) == (5, 9, "telegram")
    assert read_reader_token(SECRET, unsubscribe_token(SECRET, 42, 7, "ravi@example.com")) is None
