"""The untagged scan plus per-branch tagging finds exactly what the tagged trie finds."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.detector_bench import make_corpus
from moderation.detector import default_detector
from moderation.lexicon import tagged_tries, trie_regexes
from moderation.normalize import normalize

HERE = Path(__file__).parent


def test_same_matches_and_tags_as_the_tagged_trie() -> None:
    det = default_detector()
    items = [(p, t) for p, t, _lg in det._items[0]]
    full = [re.compile(src) for src in trie_regexes(items, word_start=True)]
    tries = tagged_tries(items, word_start=True)
    assert len(full) == len(tries)
    assert all(tt.scan.groups == 0 for tt in tries)
    rows = [json.loads(line) for line in (HERE / "labelled.jsonl").read_text().splitlines()]
    texts = [normalize(str(r["text"]))[1] for r in rows] + [
        normalize(t)[1] for t in make_corpus(300, 5)
    ]
    for dp in texts:
        for rx, tt in zip(full, tries, strict=True):
            want = [(m.span(), m.lastgroup) for m in rx.finditer(dp)]
            got = []
            for m in tt.scan.finditer(dp):
                tm = tt.tagged(dp, m.start())
                assert tm is not None
                got.append(((m.start(), tm.end()), tm.lastgroup))
            assert got == want, dp


def test_misc_patterns_keep_one_tagged_regex() -> None:
    """Patterns that do not start with a literal have no first-character branch."""
    tries = tagged_tries([(r"[0-9]+ pills", "t_a"), ("kill", "t_b")])
    assert len(tries) == 2
    misc = tries[1]
    m = misc.scan.search("took 30 pills")
    assert m is not None
    tm = misc.tagged("took 30 pills", m.start())
    assert tm is not None and tm.lastgroup is not None and tm.lastgroup.startswith("t_a")
