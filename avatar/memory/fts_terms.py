"""Keyword queries for the memories' FTS5 index: the words worth searching for and the MATCH expression."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words too common to help a keyword search (English function words and chat filler); the vector
# search covers meaning anyway.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "just", "me", "my", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which",
    "who", "why", "will", "with", "would", "you", "your", "yours", "am", "been", "being", "im", "ive", "dont",
    "don", "didn", "doesn", "isn", "wasn", "ve", "ll", "re", "yeah", "yes", "no", "not", "okay", "ok", "oh",
    "get", "got", "like", "know", "think", "want", "one", "also", "much", "well", "really", "right", "lot",
    "thing", "things", "going", "go", "now", "about", "some", "all", "any", "more", "very", "remember", "tell",
})  # fmt: skip
MAX_QUERY_TERMS = 16


def query_terms(query: str, *, keep_stopwords: bool = False) -> list[str]:
    """The words of `query` worth searching for, lowercased, first occurrence first."""
    words = re.findall(r"\w+", query.lower())
    if not keep_stopwords:
        words = [w for w in words if len(w) > 1 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_QUERY_TERMS]


def terms_expression(terms: Sequence[str], *, prefix: bool = False, any_term: bool = True) -> str | None:
    """An FTS5 MATCH expression: each term quoted, so FTS5 syntax in user text stays inert.

    any_term=True ORs them (recall: BM25 ranks the best overlap first); False ANDs them (the Memory
    tab's search box). prefix=True lets the last term match as a prefix, for search-as-you-type.
    """
    if not terms:
        return None
    quoted = [f'"{t}"' for t in terms]
    if prefix:
        quoted[-1] += "*"
    return (" OR " if any_term else " AND ").join(quoted)


def match_expression(query: str, *, prefix: bool = False, any_term: bool = True) -> str | None:
    terms = query_terms(query)
    if not terms and not any_term:
        terms = query_terms(query, keep_stopwords=True)  # a search box query of only "my": still search it
    return terms_expression(terms, prefix=prefix, any_term=any_term)
