"""How Peerline reads revocations written as people write them, measured on two corpora kept
apart from the engine, every row with its source:

- tests/data/revocation_corpus.tsv, the tuned corpus: the grammar was written from its
  misses, so its rates flatter the grammar.
- tests/data/revocation_heldout.tsv, the held-out corpus: written before the grammar and
  measured once with it (2026-12-01); no rule was changed for it.  It was written by the
  same hand as the grammar, so even these rates are no independent audit.

Every message is read as an opt-out, as maybe one (a person is asked to look, and the
sender is told how to stop everything), or as neither.  The numbers below are a ratchet:
a change may improve them, never worsen them.  `pytest -s` prints the rates.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from service.conversation.keywords import Intent, read_message

DATA = Path(__file__).resolve().parent.parent / "data"
CORPORA = {
    "tuned": DATA / "revocation_corpus.tsv",
    "held-out": DATA / "revocation_heldout.tsv",
}

# Revocations read as an opt-out, at least (measured 2026-12-01).
OPTED_OUT_AT_LEAST = {
    ("tuned", "en"): 177,
    ("tuned", "es"): 94,
    ("held-out", "en"): 48,
    ("held-out", "es"): 32,
}
# Revocations read as neither an opt-out nor maybe one: acknowledged as an ordinary message.
MISSED_AT_MOST = {
    ("tuned", "en"): 0,
    ("tuned", "es"): 0,
    ("held-out", "en"): 1,
    ("held-out", "es"): 2,
}
# Messages that are not revocations, read as an opt-out. The held-out file, measured once with
# the finished grammar, had 1 (en) and 2 (es); two of them asked for texts instead of calls
# ("Don't call me, just text"), a fault serious enough to fix: a change of channel is now for a
# person to read (KEEP), so those two rows are no longer unseen.
FALSE_OPT_OUTS_AT_MOST = {
    ("tuned", "en"): 0,
    ("tuned", "es"): 0,
    ("held-out", "en"): 0,
    ("held-out", "es"): 1,
}
# Messages that are not revocations, read as maybe one: a person looks for nothing.
FALSE_MAYBES_AT_MOST = {
    ("tuned", "en"): 0,
    ("tuned", "es"): 0,
    ("held-out", "en"): 4,
    ("held-out", "es"): 1,
}


def rows(corpus: str) -> list[dict[str, str]]:
    with CORPORA[corpus].open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def measured(corpus: str) -> Counter[tuple[str, str, Intent]]:
    """Count the rows by language, expected reading and what the engine made of them."""
    counts = Counter[tuple[str, str, Intent]]()
    for row in rows(corpus):
        intent = read_message(row["text"]).intent
        if intent not in (Intent.OPT_OUT, Intent.MAYBE_OPT_OUT):
            intent = Intent.MESSAGE
        counts[row["language"], row["expected"], intent] += 1
    return counts


@pytest.mark.parametrize(
    ("corpus", "revocations", "others"),
    [("tuned", 200, 100), ("held-out", 60, 40)],
)
def test_each_corpus_is_large_enough_and_every_row_has_a_public_source(
    corpus: str, revocations: int, others: int
) -> None:
    table = rows(corpus)
    assert all(row["source"].strip() and "http" in row["source"] for row in table)
    assert {row["language"] for row in table} == {"en", "es"}
    kinds = Counter(row["expected"] for row in table)
    assert set(kinds) == {"revoke", "keep"}
    assert kinds["revoke"] >= revocations
    assert kinds["keep"] >= others
    assert len({row["text"].casefold() for row in table}) == len(table)


def test_the_held_out_corpus_shares_no_message_with_the_tuned_one() -> None:
    tuned = {row["text"].casefold() for row in rows("tuned")}
    assert not [row["text"] for row in rows("held-out") if row["text"].casefold() in tuned]


@pytest.mark.parametrize("corpus", CORPORA)
def test_revocations_are_read_at_least_as_well_as_before(corpus: str) -> None:
    counts = measured(corpus)
    for language in ("en", "es"):
        for expected in ("revoke", "keep"):
            total = sum(counts[language, expected, intent] for intent in Intent)
            print(
                f"{corpus} {language} {expected}: {total} messages, "
                f"{counts[language, expected, Intent.OPT_OUT]} opted out, "
                f"{counts[language, expected, Intent.MAYBE_OPT_OUT]} maybe, "
                f"{counts[language, expected, Intent.MESSAGE]} neither"
            )
        key = (corpus, language)
        assert counts[language, "revoke", Intent.OPT_OUT] >= OPTED_OUT_AT_LEAST[key]
        assert counts[language, "revoke", Intent.MESSAGE] <= MISSED_AT_MOST[key]
        assert counts[language, "keep", Intent.OPT_OUT] <= FALSE_OPT_OUTS_AT_MOST[key]
        assert counts[language, "keep", Intent.MAYBE_OPT_OUT] <= FALSE_MAYBES_AT_MOST[key]
