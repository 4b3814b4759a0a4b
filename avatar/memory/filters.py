"""The sensitive-information filter every memory passes before it is stored (or sent for distillation).

What is always redacted: secrets (API keys and tokens of common shapes, private keys, credentials
in URLs, "password: X" and "my password is X"), payment card numbers (Luhn-checked, with or without
spaces/dashes), IBANs (mod-97 checked) and government ID numbers (US SSN/ITIN, UK NI number,
numbers introduced by "passport"/"driver's licence"/"SSN"). Emails and phone numbers depend on the
policy: 'strict' redacts them, 'permissive' keeps them. Policy 'off' stores nothing at all.

Redaction leaves a visible placeholder ("[redacted card number]") so that a memory still reads
naturally, and the report names only the kinds redacted, never the values.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from avatar.memory.schemas import MemoryPolicy

PLACEHOLDERS = {
    "secret": "[redacted secret]",
    "card_number": "[redacted card number]",
    "bank_account": "[redacted bank account]",
    "government_id": "[redacted ID number]",
    "email": "[redacted email]",
    "phone": "[redacted phone number]",
}


@dataclass(frozen=True)
class FilterResult:
    text: str  # "" when the policy stores nothing
    redacted: dict[str, int] = field(default_factory=dict)  # kind -> how many
    storable: bool = True  # False when the policy is 'off'

    @property
    def changed(self) -> bool:
        return bool(self.redacted)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


# (kind, pattern, optional check on the match, group to replace: 0 = all of it). Order matters:
# earlier rules redact first, so that e.g. a card number is never half-eaten by a phone rule.
Check = Callable[[re.Match[str]], bool]
_Rule = tuple[str, re.Pattern[str], Check | None, int]
_I = re.IGNORECASE


def _rule(kind: str, pattern: str, check: Check | None = None, group: int = 0, flags: int = 0) -> _Rule:
    return (kind, re.compile(pattern, flags), check, group)


def _is_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _is_iban(match: re.Match[str]) -> bool:
    return iban_valid(match.group(0))


def _has_digit(match: re.Match[str]) -> bool:
    return any(ch.isdigit() for ch in match.group(0))


def _looks_random(match: re.Match[str]) -> bool:
    # Keys and digests switch between letters and digits all the time; words and URL slugs do not.
    token = match.group(0)
    switches = sum(
        1 for a, b in itertools.pairwise(token) if a.isalpha() and b.isdigit() or a.isdigit() and b.isalpha()
    )
    return switches >= 4


# Words that follow "password is" in ordinary talk ("my password is too long"): not a password.
_NOT_A_VALUE = {
    "a", "an", "the", "that", "this", "it", "not", "too", "very", "so", "in", "on", "at", "my", "your", "our",
    "still", "now", "just", "also", "being", "gone", "wrong", "correct", "right", "expired", "changed", "weak",
    "strong", "long", "short", "easy", "hard", "same", "different", "saved", "stored", "written", "something",
    "nothing", "secret", "private", "safe", "required", "needed", "incorrect", "invalid", "reset", "new",
}  # fmt: skip


def _is_value(match: re.Match[str]) -> bool:
    return match.group(1).lower() not in _NOT_A_VALUE


def _has_four_digits(match: re.Match[str]) -> bool:
    return sum(ch.isdigit() for ch in match.group(1)) >= 4


_VALUE = r"[\"'“‘]?([^\s\"'”’]*[^\s\"'”’.,;:!?)])"
_CARD_EDGE = r"(?<![\d-]){}(?![\d])"

ALWAYS: list[_Rule] = [
    _rule("secret", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    _rule("secret", r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_-]{16,}", _has_digit),  # OpenAI, Anthropic
    _rule("secret", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"),  # Stripe
    _rule("secret", r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    _rule("secret", r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    _rule("secret", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b"),  # AWS access key ids
    _rule("secret", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    _rule("secret", r"\bAIza[0-9A-Za-z_-]{35}"),  # Google API keys
    _rule("secret", r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    _rule("secret", r"\bglpat-[A-Za-z0-9_-]{20,}"),  # GitLab
    _rule("secret", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    _rule("secret", r"(?<=bearer )[A-Za-z0-9._~+/-]{16,}=*", flags=_I),
    _rule("secret", r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)"),  # user:password@host
    # "password: X", "api_key=X", "token: X"
    _rule(
        "secret",
        r"\b(?:password|passwd|pwd|passcode|passphrase|pin|secret|api[\s_-]?key|access[\s_-]?key|"
        r"secret[\s_-]?key|token|auth)\s*[:=]\s*" + _VALUE,
        group=1,
        flags=_I,
    ),
    # "my password is X", "the wifi password is now X", "my PIN code is 1234"
    _rule(
        "secret",
        r"\b(?:password|passwd|passcode|passphrase|pin(?:\s*code)?|pin\s*number|api\s*key|access\s*key)"
        r"(?:\s+(?:for|to|of|on)\s+[\w.' -]{1,30}?)?\s+(?:is|was|=)\s+(?:now\s+|still\s+)?" + _VALUE,
        _is_value,
        group=1,
        flags=_I,
    ),
    # Long key-like runs (hex digests, base64 keys) that name no provider.
    _rule("secret", r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_-])", _looks_random),
    _rule("card_number", _CARD_EDGE.format(r"\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1?\d{1,3})?"), _is_card),
    _rule("card_number", _CARD_EDGE.format(r"\d{4}([ -]?)\d{6}\1\d{4,5}"), _is_card),  # Amex, Diners
    _rule("card_number", _CARD_EDGE.format(r"\d{13,19}"), _is_card),
    _rule("bank_account", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", _is_iban),
    # US SSN / ITIN written with separators; bare 9 digits only after a telling word (next rule).
    _rule("government_id", r"(?<![\d-])(?!000|666)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"),
    _rule(
        "government_id",
        r"\b(?:ssn|social security(?:\s+number|\s+no\.?)?|itin|passport(?:\s+number|\s+no\.?|\s*#)?|"
        r"driver'?s?\s+licen[cs]e(?:\s+number|\s+no\.?|\s*#)?|national\s+id(?:\s+number)?|tax\s+id|"
        r"(?:national\s+)?insurance\s+number|nino|personnummer|aadhaar(?:\s+number)?)"
        r"\s*(?:is\s+|:\s*|=\s*|#\s*)?((?:[A-Z]{0,3}\d[\dA-Z]*)(?:[ -]\d[\dA-Z]*)*)",
        _has_four_digits,
        group=1,
        flags=_I,
    ),
    # UK National Insurance number
    _rule(
        "government_id", r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
    ),
]

CONTACT: list[_Rule] = [
    _rule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    # International (+44 20 7946 0958), North American ((555) 123-4567, 555.123.4567), national
    # trunk-prefixed (020 7946 0958) and bare runs of 10-11 digits.
    _rule("phone", r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\d(?!\w)"),
    _rule("phone", r"(?<![\w(])(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w)"),
    _rule("phone", r"(?<![\w-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\w-])"),
    _rule("phone", r"(?<![\w.-])\d{10,11}(?![\w.-])"),
]


def _replacer(kind: str, check: Check | None, group: int, counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if check is not None and not check(match):
            return match.group(0)
        counts[kind] = counts.get(kind, 0) + 1
        if not group:
            return PLACEHOLDERS[kind]
        whole, offset = match.group(0), match.start()
        start, end = match.span(group)
        return whole[: start - offset] + PLACEHOLDERS[kind] + whole[end - offset :]

    return replace


def _apply(text: str, rules: list[_Rule], counts: dict[str, int]) -> str:
    for kind, pattern, check, group in rules:
        text = pattern.sub(_replacer(kind, check, group, counts), text)
    return text


def filter_sensitive(text: str, policy: MemoryPolicy = "strict") -> FilterResult:
    """`text` with sensitive information replaced by placeholders, under `policy`."""
    if policy == "off":
        return FilterResult(text="", storable=False)
    counts: dict[str, int] = {}
    text = _apply(text, ALWAYS, counts)
    if policy == "strict":
        text = _apply(text, CONTACT, counts)
    return FilterResult(text=text, redacted=counts)
