"""Loading the reviewable TOML lexicons and compiling them into fast regexes.

Lexicons are data so clinicians and native speakers can review them without reading
Python. Patterns are small regexes over the normalised text (see normalize.py): a literal
space means optional whitespace and "(a|b)" groups are allowed. Hundreds of patterns are
merged into one prefix trie per list, because Python's `re` tries alternatives one by one
and a flat alternation of 500 phrases would cost hundreds of microseconds per message.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moderation.normalize import normalize_pattern
from moderation.verdict import CATEGORIES, Severity

#: Kinds decide which context rules apply to a trigger (see detector.py).
KINDS = frozenset(
    {
        "wish",  # passive ideation: wish to be dead, disappear
        "ideation",  # active suicidal thoughts, self-harm urges
        "intent",  # stated intent or plan
        "act",  # an act done or in progress (took the pills, cut)
        "history",  # attempt stated in the past tense; recency decides severity
        "prep",  # preparatory acts and final goodbyes
        "encourage",  # urging someone else to self-harm or die
        "threat",  # harm to others
        "abuse",  # being hurt or unsafe at home, now
        "grooming",  # an adult seeking secrecy, images or meetings with a minor
        "contact",  # moving a conversation off-platform
    }
)

CUE_KINDS = (
    "negation",
    "first_person",
    "second_person",
    "third_person",
    "support",
    "reported",
    "idiom",
    "hyperbole",
    "fiction",
    "past",
    "recent",
    "recovery",
    "present",
    "time",
    "method",
    "prep",
    "hotline",
    "clause_break",
    "generic",
    "trivial",
    "post_negation",
    "drug",
    "casual_bye",  # "good night, see you tomorrow": a farewell that is not a final one
    "benign_place",  # "stuck in traffic on the bridge": being somewhere high is not an act
    "despair",  # "I can't do this anymore": with a means at hand it is a crisis
    # Compositional layer (see [[rule]] in common.toml): cues looked for near an anchor.
    "quantity",  # all, the whole, the rest of, 30, one by one: an amount, not a dose
    "act_past",  # took, swallowed, downed, already, tied: the act is done or under way
    "intent",  # going to, gonna, decided, ready, finally: a stated plan
    "position",  # standing on, at the edge of, parked at: the writer is at the place
    "wishing",  # would be a relief if, I pray, I wish: a wish, not a plan
    "rumination",  # keep thinking about, all I can think about, looked up how
    "deliberate",  # on purpose, intentionally: an ingestion that was not an accident
    "routine",  # as prescribed, like the doctor said: taking medication as directed
    "off_platform",  # "dm me", "where the mods cant read": contact that leaves the room
    "at_edge",  # on the ledge, legs over the railing, on the wrong side: past the barrier
    "used",  # did a line, shot up, took 4 clonas, the gear: a substance taken (OD_SIGN rules)
    "relapse",  # like old times, the old dose, alone: how a relapse after a break kills
    "violence_now",  # screaming, drunk, breaking the door: violence under way at home
    "vengeance",  # they'll all see, make him pay, with a hammer: set on hurting someone
)

# Word boundary that also understands Devanagari vowel signs (which `\b` does not).
_WORDCH = r"[\w\u0900-\u097f]"
BOUND_START = rf"(?<!{_WORDCH})"
BOUND_END = rf"(?!{_WORDCH})"
_META = set("\\.^$*+?{}[]|()")
_MAXLEN = 1 << 30
_EXPAND_TAIL = 80  # longest tail for which later alternation groups are multiplied out


@dataclass(frozen=True, slots=True)
class Trigger:
    """One reviewed rule: a family of phrasings with a category and a base severity."""

    id: str
    lang: str
    kind: str
    categories: tuple[str, ...]
    severity: Severity
    patterns: tuple[str, ...]
    requires: tuple[str, ...] = ()  # cue kinds of which at least one must be present
    unless: tuple[str, ...] = ()  # cue kinds any of which discards the hit
    # Light (contact) triggers only: a cheap regex that must match before the patterns
    # are tried. The structural patterns start with a class or a group, which `re` tries
    # at every position; a gate that starts with a literal or a class it can skip to is
    # several times faster and rules out almost every message.
    gate: str = ""


#: Anchor concepts of the compositional layer: rare words that send a message to the
#: rules (names are upper case in rules, cue kinds lower case).
ANCHOR_CONCEPTS = frozenset(
    {
        "DRUG", "MEANS", "PLACE", "FAREWELL", "DEATH", "DEATHWISH", "DESPAIR",
        "OD_SIGN", "BREAK", "HIDING", "TARGET",
    }
)
#: Anchors that are no risk on their own: recovery talk ("8 months clean") and the body's
#: signs ("heart racing"). They send a message to the rules, but a message where only these
#: were found counts as one where the lexicon saw nothing, so the risk model keeps its
#: higher bar for unseen messages (classifier.NOTHING).
NEUTRAL_CONCEPTS = frozenset({"BREAK", "OD_SIGN"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One compositional rule: an anchor concept plus cues (reviewable, in common.toml).

    Fires when an anchor of concept `anchor` survived negation and idiom checks, every
    cue in `near` is found within `window` characters of it, every term in `also` and at
    least one term of `any` (when given) occurs anywhere in the message, and no cue in
    `unless` does. Terms are cue kinds (lower case) or anchor concepts (upper case);
    "FAREWELL>=2" means two separate farewell anchors. `imminent_with` raises the
    severity to imminent when any of its terms is present.
    """

    id: str
    anchor: str
    kind: str
    categories: tuple[str, ...]
    severity: Severity
    near: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    imminent_with: tuple[str, ...] = ()
    window: int = 60
    self_only: bool = True  # apply the subject guards ("you", "my brother", news)
    capped_by_joking: bool = False  # hyperbole and trivial conditions cap it at low
    # False when the anchor is itself recovery talk ("8 months clean", BREAK): the cap of
    # distant past or recovery at low would otherwise always apply.
    past_capped: bool = True


@dataclass(slots=True)
class Lexicon:
    """Everything loaded from one TOML file."""

    lang: str
    stopwords: tuple[str, ...] = ()
    cues: dict[str, list[str]] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    anchors: dict[str, list[str]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)


def _check_term(path: Path, rid: str, term: str) -> None:
    name = term.split(">=")[0]
    if name not in CUE_KINDS and name not in ANCHOR_CONCEPTS:
        raise ValueError(f"{path.name}: rule {rid}: unknown term {term!r}")


def _groups_non_capturing(p: str) -> str:
    """Turn reviewer-friendly "(a|b)" into "(?:a|b)" so group numbers stay ours."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            out.append(p[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == "(" and not p.startswith("(?", i):
            out.append("(?:")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def prepare(pattern: str, *, collapse: bool = True) -> str:
    """Normalise one lexicon pattern into the regex source used at runtime.

    Contact patterns run on the light view (digits and punctuation intact, no stretched
    letter collapse), so they are prepared with `collapse=False`.
    """
    return _groups_non_capturing(normalize_pattern(pattern.strip(), collapse=collapse))


def load_lexicon(path: Path) -> Lexicon:
    """Parse and validate one lexicon file; raises ValueError with the file name on error."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    lang = str(data.get("lang", path.stem))
    lex = Lexicon(lang=lang, stopwords=tuple(data.get("stopwords", ())))
    for kind, items in data.get("cues", {}).items():
        if kind not in CUE_KINDS:
            raise ValueError(f"{path.name}: unknown cue list {kind!r}")
        lex.cues[kind] = [prepare(p) for p in items]
    for n, t in enumerate(data.get("trigger", [])):
        tid = str(t.get("id", f"{lang}.{n}"))
        kind = str(t.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"{path.name}: trigger {tid}: unknown kind {kind!r}")
        cats = t.get("categories", ())
        if isinstance(cats, str):
            cats = (cats,)
        for c in cats:
            if c not in CATEGORIES:
                raise ValueError(f"{path.name}: trigger {tid}: unknown category {c!r}")
        sev = Severity.from_label(str(t.get("severity", "medium")))
        # Structural contact patterns (common.toml: digits, @, links) see the light view
        # without stretched-letter collapse; phrase patterns are collapsed like the rest.
        light = kind == "contact" and lang == "common"
        pats = tuple(prepare(p, collapse=not light) for p in t.get("patterns", ()))
        for p in pats:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"{path.name}: trigger {tid}: bad pattern {p!r}: {exc}") from exc
        requires = tuple(t.get("requires", ()))
        for r in requires:
            if r not in CUE_KINDS:
                raise ValueError(f"{path.name}: trigger {tid}: unknown cue in requires {r!r}")
        unless = tuple(t.get("unless", ()))
        for r in (*requires, *unless):
            if r not in CUE_KINDS:
                raise ValueError(f"{path.name}: trigger {tid}: unknown cue {r!r}")
        gate = str(t.get("gate", ""))
        if gate:
            gate = prepare(gate, collapse=not light)
            try:
                re.compile(gate)
            except re.error as exc:
                raise ValueError(f"{path.name}: trigger {tid}: bad gate {gate!r}: {exc}") from exc
        lex.triggers.append(
            Trigger(tid, lang, kind, tuple(cats), sev, pats, requires, unless, gate)
        )
    for concept, items in data.get("anchors", {}).items():
        if concept not in ANCHOR_CONCEPTS:
            raise ValueError(f"{path.name}: unknown anchor concept {concept!r}")
        anchor_pats = [prepare(p) for p in items]
        for p in anchor_pats:
            try:
                re.compile(p)
            except re.error as exc:
                msg = f"{path.name}: anchor {concept}: bad pattern {p!r}: {exc}"
                raise ValueError(msg) from exc
        lex.anchors[concept] = anchor_pats
    for n, r in enumerate(data.get("rule", [])):
        rid = str(r.get("id", f"{lang}.rule{n}"))
        anchor = str(r.get("anchor", ""))
        kind = str(r.get("kind", ""))
        if anchor not in ANCHOR_CONCEPTS:
            raise ValueError(f"{path.name}: rule {rid}: unknown anchor {anchor!r}")
        if kind not in KINDS:
            raise ValueError(f"{path.name}: rule {rid}: unknown kind {kind!r}")
        cats = tuple(r.get("categories", ()))
        for c in cats:
            if c not in CATEGORIES:
                raise ValueError(f"{path.name}: rule {rid}: unknown category {c!r}")
        terms = {f: tuple(r.get(f, ())) for f in ("near", "also", "any", "unless", "imminent_with")}
        for t in (x for v in terms.values() for x in v):
            _check_term(path, rid, t)
        lex.rules.append(
            Rule(
                rid, anchor, kind, cats, Severity.from_label(str(r.get("severity", "high"))),
                window=int(r.get("window", 60)),
                self_only=bool(r.get("self_only", True)),
                capped_by_joking=bool(r.get("capped_by_joking", False)),
                past_capped=bool(r.get("past_capped", True)),
                **terms,
            )
        )
    return lex


def load_all(directory: Path) -> list[Lexicon]:
    """Load every *.toml in a directory, sorted for deterministic rule order."""
    return [load_lexicon(p) for p in sorted(directory.glob("*.toml"))]


# --------------------------------------------------------------------------- trie regex


def _literal_prefix(p: str) -> tuple[list[str], str]:
    """Split a pattern into (literal tokens, rest) for trie factoring.

    A token is one plain character or the optional-whitespace marker, so phrases that
    share leading words share one trie path.
    """
    toks: list[str] = []
    i = 0
    ws = r"\s*"
    while i < len(p):
        if p.startswith(ws, i):
            toks.append(ws)
            i += len(ws)
            continue
        c = p[i]
        if c in _META:
            break
        nxt = p[i + 1] if i + 1 < len(p) else ""
        if nxt in ("?", "*", "+", "{"):
            break
        toks.append(c)
        i += 1
    return toks, p[i:]


def _close_paren(p: str, i: int) -> int:
    """Index of the ")" closing the group opened at p[i], or -1."""
    depth = 0
    j = i
    in_class = False
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _split_top(inner: str) -> list[str] | None:
    """Split a group body on top-level "|"; None when it has nested structure."""
    if any(c in inner for c in "()[]"):
        return None
    return inner.split("|")


def expand(p: str, budget: int = 64) -> list[str]:
    """Multiply out leading groups of plain alternatives so the trie can factor them.

    "(going to|gona) (kil myself|end it)" becomes four literal phrases; Python's `re`
    then checks one character per branch instead of trying each phrase in turn.
    """
    if p.startswith(r"\d+"):  # "20 pills": one branch per leading digit
        return [f"{i}\\d*{p[3:]}" for i in range(10)]
    if p.startswith(r"\d\d+"):  # "43 pills": two digits or more
        return [f"{i}\\d+{p[5:]}" for i in range(10)]
    toks, rest = _literal_prefix(p)
    lit = "".join(toks)
    if not rest.startswith("(?:"):
        return [p]
    end = _close_paren(rest, 0)
    if end < 0:
        return [p]
    after = rest[end + 1 :]
    optional = False
    if after[:1] in ("*", "+", "{"):
        return [p]
    if after[:1] == "?":
        if after[1:2] in ("?", "+"):
            return [p]
        optional = True
        after = after[1:]
    alts = _split_top(rest[3:end])
    # Every alternative must start with a literal (or a leading digit run, expanded per
    # digit); what follows it may be any regex ("pics?", "lost \w+"): each variant is
    # still one branch of the same alternation.
    if alts is None or any(
        not _literal_prefix(a)[0] and not a.startswith(r"\d") for a in alts
    ):
        return [p]
    if optional:
        alts.append("")
    if len(alts) > budget:
        return [p]
    out: list[str] = []
    # Later groups are multiplied out only while the tail is short: every variant copies
    # the whole tail, and long family patterns would otherwise bloat the compiled regex
    # (start-up time) without helping the first-character dispatch.
    per = max(1, budget // len(alts))
    for a in alts:
        # A variant that still starts with a group (an optional first group dropped)
        # must be expanded further, or it would land in the slow non-literal regex.
        sub = per if len(after) <= _EXPAND_TAIL or not (lit + a) else 1
        out.extend(expand(lit + a + after, sub))
    return out


class _Node:
    __slots__ = ("children", "leaves")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.leaves: list[str] = []


def _emit(node: _Node) -> str:
    alts = [
        (tok if tok == r"\s*" else re.escape(tok)) + _emit(child)
        for tok, child in sorted(node.children.items())
    ]
    alts.extend(node.leaves)
    if len(alts) == 1:
        return alts[0] if not node.leaves else f"(?:{alts[0]})"
    return "(?:" + "|".join(alts) + ")"


def _flatten(items: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [
        (e, None if tag is None else f"{tag}x{k}")
        for pat, tag in items
        for k, e in enumerate(expand(pat))
    ]


def _build(flat: list[tuple[str, str | None]], bounded: bool) -> _Node:
    root = _Node()
    for pat, tag in flat:
        toks, rest = _literal_prefix(pat)
        suffix = f"(?:{rest})" if rest else ""
        if bounded:
            suffix += BOUND_END
        if tag is not None:
            suffix += f"(?P<{tag}>)"
        node = root
        for tok in toks:
            node = node.children.setdefault(tok, _Node())
        node.leaves.append(suffix)
    return root


def trie_regexes(
    items: Iterable[tuple[str, str | None]], *, bounded: bool = True, word_start: bool = False
) -> list[str]:
    """Regexes for many patterns, factored by literal prefix (one or two sources).

    Each item is (pattern source, tag); a tag becomes an empty named group placed after
    the pattern so `match.lastgroup` tells which pattern matched. Expanded variants get
    "x<n>" appended; `tag_of` strips it again.

    The first regex holds every pattern that starts with a literal character. Its top
    level is a branch of literals with the word-boundary check placed AFTER the first
    character, which lets `re` use its first-character skip loop in C instead of
    running the matcher at every position. Patterns starting with a class or a group
    go to a second, small regex.

    With `word_start`, the literal regex begins with `\b` so `re` only tries it at word
    starts (about 1.7x faster). `\b` misreads Devanagari vowel signs as non-word
    characters, so branches starting with a non-ASCII character keep the exact guard;
    patterns that start with punctuation ("@name", "+49") must not use this mode.
    """
    return [src for src, _branches in _trie_parts(_flatten(items), bounded, word_start)]


def _trie_parts(
    flat: list[tuple[str, str | None]], bounded: bool, word_start: bool
) -> list[tuple[str, dict[str, str]]]:
    """trie_regexes' sources, each with its top-level branches keyed by first character
    ("" for the one regex whose patterns do not start with a literal)."""
    lit = [(p, t) for p, t in flat if _literal_prefix(p)[0][:1] not in ([], [r"\s*"])]
    lit_set = set(lit)  # built once: rebuilding it per item was quadratic (start-up)
    misc = [(p, t) for p, t in flat if (p, t) not in lit_set]
    out: list[tuple[str, dict[str, str]]] = []
    if lit:
        root = _build(lit, bounded)
        branches: dict[str, str] = {}
        for tok, child in sorted(root.children.items()):
            guard = rf"(?<!{_WORDCH}.)" if bounded else ""
            if word_start and tok.isascii():
                guard = ""
            branches[tok] = re.escape(tok) + guard + _emit(child)
        body = "(?:" + "|".join(branches.values()) + ")"
        start = r"\b" if word_start else ""
        out.append((start + body, {tok: f"{start}(?:{b})" for tok, b in branches.items()}))
    if misc:
        body = _emit(_build(misc, bounded))
        src = (BOUND_START + body) if bounded else body
        out.append((src, {"": src}))
    return out


_EMPTY_GROUP = re.compile(r"\(\?P<\w+>\)")  # the tag groups _build appends


@dataclass(frozen=True, slots=True)
class TaggedTrie:
    """One trie regex of trie_regexes, split for speed; `finditer` gives exactly the
    tagged matches the regex itself would.

    Every successful match copies all of a regex's groups, and the trigger trie has one
    tag group per pattern (thousands: about 10 us a match), so the text is scanned with
    `scan`, the trie without tag groups, and each match is tagged by re-running only the
    branch for its first character, the only branch that can match there.

    A word-start trie (`\\b` then branches that all begin with a word character) is
    scanned as `\\W` plus the branches instead: `re` cannot skip ahead to a `\\b` and
    tests it at every character, but skips to a non-word character in a tight loop. That
    scan needs the character before the word, so the position a search starts from is
    tried on its own (`lead` = 1: a scan match starts one character before the word).
    """

    scan: re.Pattern[str]
    lead: int
    branches: dict[str, re.Pattern[str]]  # first character ("" = any) -> tagged branch

    def tagged(self, text: str, start: int) -> re.Match[str] | None:
        """The trie's tagged match starting exactly at `start`, if any."""
        rx = self.branches.get(text[start : start + 1]) or self.branches.get("")
        return rx.match(text, start) if rx is not None else None

    def finditer(self, text: str, pos: int = 0) -> Iterator[re.Match[str]]:
        """Tagged matches, as the full tagged regex's finditer(text, pos) yields them."""
        whole = self.branches.get("")
        if whole is not None:  # no literal first characters: one small tagged regex
            yield from whole.finditer(text, pos)
            return
        scan, lead = self.scan, self.lead
        if not lead:
            for m in scan.finditer(text, pos):
                tm = self.tagged(text, m.start())
                assert tm is not None and tm.end() == m.end()  # the same trie, tagged
                yield tm
            return
        while True:  # every branch starts with a literal: no empty matches
            found = self.tagged(text, pos)
            if found is None:
                w = scan.search(text, pos)
                if w is None:
                    return
                found = self.tagged(text, w.start() + 1)
                assert found is not None and found.end() == w.end()  # the same trie, tagged
            yield found
            pos = found.end()

    def search(self, text: str) -> int | None:
        """Start of the first match in `text`, or None (no tagging: cheap)."""
        if self.lead and self.tagged(text, 0) is not None:
            return 0
        m = self.scan.search(text)
        return None if m is None else m.start() + self.lead


def tagged_tries(
    items: Iterable[tuple[str, str]], *, bounded: bool = True, word_start: bool = False
) -> list[TaggedTrie]:
    """trie_regexes(items, bounded=..., word_start=...) as TaggedTries, in order."""
    out: list[TaggedTrie] = []
    for src, branches in _trie_parts(_flatten(items), bounded, word_start):
        scan = _EMPTY_GROUP.sub("", src)  # an empty group never changes a match
        lead = 0
        if word_start and scan.startswith(r"\b(?:") and all(_WORD.match(k) for k in branches):
            scan, lead = r"\W" + scan[2:], 1
        out.append(
            TaggedTrie(re.compile(scan), lead, {k: re.compile(v) for k, v in branches.items()})
        )
    return out


_WORD = re.compile(r"\w")


def trie_regex(items: Iterable[tuple[str, str | None]], *, bounded: bool = True) -> str:
    """All patterns in one regex source (see trie_regexes for the fast split form)."""
    parts = trie_regexes(items, bounded=bounded)
    if len(parts) == 1:
        return parts[0]
    return "(?:" + "|".join(parts) + ")"


def tag_of(group: str | None) -> str:
    """The caller's tag for a `lastgroup` name produced by trie_regex."""
    return (group or "").rsplit("x", 1)[0]


def compile_list(patterns: Sequence[str], *, bounded: bool = True) -> re.Pattern[str]:
    """Compile a cue list into one trie regex (never matches when the list is empty)."""
    if not patterns:
        return re.compile(r"(?!x)x")
    srcs = trie_regexes(((p, None) for p in patterns), bounded=bounded, word_start=bounded)
    return re.compile(srcs[0] if len(srcs) == 1 else "(?:" + "|".join(srcs) + ")")


class CueList:
    """A cue list compiled as by compile_list, with `re.Pattern`'s search, match and
    finditer (same matches), searched faster when every pattern starts with a word
    character: `re` cannot skip ahead to the list's leading `\\b` and tests it at every
    character, so the list is searched as `\\W` plus its branches (see TaggedTrie),
    and each match found is taken again with the list's own regex at its word."""

    __slots__ = ("_scan", "pattern", "regex")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.regex = compile_list(patterns)
        self.pattern = self.regex.pattern
        self._scan: re.Pattern[str] | None = None
        flat = _flatten((p, None) for p in patterns)
        parts = _trie_parts(flat, True, True) if patterns else []
        if (
            len(parts) == 1
            and parts[0][0] == self.pattern
            and self.pattern.startswith(r"\b(?:")
            and all(_WORD.match(k) for k in parts[0][1])
        ):
            self._scan = re.compile(r"\W" + self.pattern[2:])

    def search(self, text: str, pos: int = 0, endpos: int = _MAXLEN) -> re.Match[str] | None:
        """Like `re.Pattern.search`."""
        rx, scan = self.regex, self._scan
        if scan is None:
            return rx.search(text, pos, endpos)
        m = rx.match(text, pos, endpos)  # the scan needs the character before a word
        if m is not None:
            return m
        w = scan.search(text, pos, endpos)
        return None if w is None else rx.match(text, w.start() + 1, endpos)

    def match(self, text: str) -> re.Match[str] | None:
        """Like `re.Pattern.match`."""
        return self.regex.match(text)

    def finditer(
        self, text: str, pos: int = 0, endpos: int = _MAXLEN
    ) -> Iterator[re.Match[str]]:
        """Like `re.Pattern.finditer` (patterns start with a literal: never empty)."""
        if self._scan is None:
            yield from self.regex.finditer(text, pos, endpos)
            return
        while (m := self.search(text, pos, endpos)) is not None:
            yield m
            pos = m.end()
