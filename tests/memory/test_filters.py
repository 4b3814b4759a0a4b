"""The sensitive-information filter: what is always redacted, what depends on the policy, what is left alone."""

from __future__ import annotations

import pytest

from avatar.memory.filters import filter_sensitive, iban_valid, luhn_valid

# (what the user said, the part that must not survive, what kind it is)
ALWAYS_REDACTED = [
    ("my openai key is sk-proj-abc123DEF456ghi789JKL012mno", "sk-proj-abc123DEF456ghi789JKL012mno", "secret"),
    ("use sk-ant-api03-AbCdEf1234567890XyZ please", "sk-ant-api03-AbCdEf1234567890XyZ", "secret"),
    ("token ghp_1234567890abcdefghijABCDEFGHIJ123456", "ghp_1234567890abcdefghijABCDEFGHIJ123456", "secret"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "secret"),
    ("aws key AKIAIOSFODNN7EXAMPLE for prod", "AKIAIOSFODNN7EXAMPLE", "secret"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij", "secret"),
    ("stripe sk_live_51HxYzAbCdEfGh123456", "sk_live_51HxYzAbCdEfGh123456", "secret"),
    ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv", "secret"),
    ("password: hunter2", "hunter2", "secret"),
    ("pwd=Sup3r$ecret!", "Sup3r$ecret", "secret"),
    ("My password is correcthorsebattery.", "correcthorsebattery", "secret"),
    ("the wifi password for my flat is Tr0ub4dor&3", "Tr0ub4dor&3", "secret"),
    ("my PIN code is 4821", "4821", "secret"),
    ("db at postgres://admin:s3cretpw@db.local/app", "s3cretpw", "secret"),
    ("Authorization: Bearer abcdefghijklmnop1234567890", "abcdefghijklmnop1234567890", "secret"),
    ("hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d659a2f", "secret"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA", "secret"),
    ("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", "card_number"),
    ("card 5500-0000-0000-0004", "5500-0000-0000-0004", "card_number"),
    ("number 4012888888881881 thanks", "4012888888881881", "card_number"),
    ("amex 3782 822463 10005", "3782 822463 10005", "card_number"),
    ("my ssn is 123-45-6789", "123-45-6789", "government_id"),
    ("social security number: 123456789", "123456789", "government_id"),
    ("passport number X12345678, expires soon", "X12345678", "government_id"),
    ("NI number AB 12 34 56 C", "AB 12 34 56 C", "government_id"),
    ("pay to DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00", "bank_account"),
]

CONTACT = [
    ("mail me at sam.doe@example.com", "sam.doe@example.com", "email"),
    ("call +44 20 7946 0958 tonight", "+44 20 7946 0958", "phone"),
    ("my cell is (555) 123-4567", "(555) 123-4567", "phone"),
    ("or 555.123.4567", "555.123.4567", "phone"),
]

LEFT_ALONE = [
    "my password is too long to remember",
    "the pin is in the drawer",
    "my passport is in the drawer",
    "not a card: 4111 1111 1111 1112",
    "I was born in 1990, have 2 dogs and we meet at 10:30 on 2024-05-01",
    "see https://example.com/my-long-blog-post-title-from-2024-about-stuff",
    "I ran 5 km in 25 minutes and my bib was 1234",
]


@pytest.mark.parametrize(("said", "secret", "kind"), ALWAYS_REDACTED)
@pytest.mark.parametrize("policy", ["strict", "permissive"])
def test_secrets_cards_and_ids_are_always_redacted(said, secret, kind, policy):
    result = filter_sensitive(said, policy)
    assert secret not in result.text
    assert result.redacted.get(kind, 0) >= 1
    assert "[redacted" in result.text


@pytest.mark.parametrize(("said", "value", "kind"), CONTACT)
def test_contact_details_are_redacted_when_strict_and_kept_when_permissive(said, value, kind):
    strict = filter_sensitive(said, "strict")
    assert value not in strict.text and strict.redacted == {kind: 1}
    permissive = filter_sensitive(said, "permissive")
    assert permissive.text == said and not permissive.changed


@pytest.mark.parametrize("said", LEFT_ALONE)
def test_ordinary_talk_is_left_alone(said):
    result = filter_sensitive(said, "strict")
    assert result.text == said, result.redacted


def test_policy_off_stores_nothing():
    result = filter_sensitive("I love hiking", "off")
    assert result.text == "" and not result.storable


def test_the_report_names_kinds_never_values():
    result = filter_sensitive("password: hunter2 and card 4111111111111111", "strict")
    assert result.redacted == {"secret": 1, "card_number": 1}
    assert "hunter2" not in repr(result.redacted)


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
