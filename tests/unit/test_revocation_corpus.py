"""How well the keyword engine reads plain-language revocations, measured on a corpus kept apart
from the engine: tests/data/revocation_corpus.tsv, with the source of every row.

The numbers below are a ratchet: a change to the engine may raise them, never lower them.
`pytest -s` prints the rates.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from service.conversation.keywords import Intent, read_message

CORPUS = Path(__file__).resolve().parent.parent / "data" / "revocation_corpus.tsv"

# Read as an opt-out, of the corpus's rows of each kind (measured 2026-12-01).
AT_LEAST = {("en", "revoke"): 141, ("es", "revoke"): 93}
AT_MOST = {("en", "keep"): 2, ("es", "keep"): 3}


def measured() -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    rows = Counter[tuple[str, str]]()
    opted_out = Counter[tuple[str, str]]()
    with CORPUS.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            kind = (row["language"], row["expected"])
            rows[kind] += 1
            opted_out[kind] += read_message(row["text"]).intent is Intent.OPT_OUT
    return rows, opted_out


def test_the_corpus_is_large_enough_and_sourced() -> None:
    with CORPUS.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    assert all(row["source"].strip() for row in rows)
    kinds = Counter((row["language"], row["expected"]) for row in rows)
    assert kinds["en", "revoke"] + kinds["es", "revoke"] >= 200
    assert kinds["en", "keep"] + kinds["es", "keep"] >= 100
    assert len({row["text"].casefold() for row in rows}) == len(rows)


def test_revocations_are_read_at_least_as_well_as_before() -> None:
    rows, opted_out = measured()
    for kind in sorted(rows):
        print(f"{kind}: {opted_out[kind]}/{rows[kind]} read as an opt-out")
    for kind, least in AT_LEAST.items():
        assert opted_out[kind] >= least, kind
    for kind, most in AT_MOST.items():
        assert opted_out[kind] <= most, kind
