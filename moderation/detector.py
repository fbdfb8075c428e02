"""Crisis-language detector: pure, synchronous, no I/O after construction.

Pipeline per message: normalise once (normalize.py) -> one trie regex over all trigger
phrases (benign messages stop here) -> per-hit context rules (negation, idioms, who is
the subject, support/news framing, past-with-recovery, hyperbole) -> message-level
escalation on the Columbia ladder (time, method, preparation cues) -> Verdict with
evidence spans mapped back to the original text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from moderation.classifier import (
    DEFAULT_MODEL,
    NOTHING,
    SEEN,
    SET_ASIDE,
    RiskModel,
    decide,
    features,
    word_spans,
)
from moderation.lexicon import (
    NEUTRAL_CONCEPTS,
    CueList,
    Lexicon,
    Rule,
    TaggedTrie,
    Trigger,
    expand,
    load_all,
    tag_of,
    tagged_tries,
    trie_regexes,
)
from moderation.normalize import normalize, normalize_mapped, span_to_original
from moderation.prefilter import Prefilter
from moderation.verdict import CATEGORIES, NO_RISK, Evidence, Severity, Verdict, is_any_risk

DEFAULT_LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

_SELF_KINDS = frozenset({"wish", "ideation", "intent", "act", "history", "prep"})
_PAST_AWARE = frozenset({"wish", "ideation", "intent", "act", "history", "abuse", "prep"})
_HYPERBOLE_CAPPED = frozenset({"wish", "ideation", "intent", "threat"})
_SELF_CATS = frozenset({"self_harm_risk", "overdose_risk"})
# Sentence punctuation always ends a clause (language-specific words live in the TOML).
_PUNCT_BREAK = re.compile(r"[.!?;,:\n\u0964]+|\s-\s")
# The same without the dash alternative, for texts without a dash (most): `re` then
# skips to punctuation instead of trying the dash at every space. Same matches there.
_PUNCT_ONLY_BREAK = re.compile(r"[.!?;,:\n\u0964]+")
# Structural contact patterns all need one of these characters (digits, @, :, =, /).
# A single character class so `re` scans it in C ("name (at) mail (dot) com" has "(").
_LIGHT_GATE = re.compile(r"[0-9@:=/(\[]")
_CONTACT_ROOMS_MEDIUM = frozenset({"youth"})
# Details that reach a person offline (a number also shows a name and photo in messaging
# apps): medium in every room, where a public handle among adults stays low.
_PERSONAL = (".phone", ".street_address")
_NEG_WINDOW = 4  # tokens before a trigger searched for a negation
_POST_NEG_WINDOW = 5  # tokens after a trigger searched for a Hindi-style negation
_SUBJ_WINDOW = 6  # tokens before a trigger searched for its grammatical subject
_MAXLEN = 1 << 30
_MODEL_EVIDENCE = 3  # words shown to moderators for a category the risk model added
_IDIOM_REACH = 100  # idioms are searched this far around a hit (all are much shorter)


def _concept(trig: Trigger) -> str:
    """The concept of an anchor trigger ("en.anchor.PLACE" -> "PLACE")."""
    return trig.id.rsplit(".", 1)[1]


def _rule_term(term: str, concepts: dict[str, set[int]], cue: Callable[[str], bool]) -> bool:
    """One term of a rule's `also`/`any`: "X>=k" (k separate anchors of concept X), a
    concept (upper case), or a cue kind, looked up with `cue`."""
    if ">=" in term:
        name, k = term.split(">=")
        return len(concepts.get(name, ())) >= int(k)
    if term.isupper():
        return term in concepts
    return cue(term)


class _CueRx:
    """One cue kind in one scope: the compiled lists of several languages, searched in
    turn (each list is compiled once and shared between scopes)."""

    __slots__ = ("_rxs",)

    def __init__(self, rxs: tuple[CueList, ...]) -> None:
        self._rxs = rxs

    @property
    def patterns(self) -> tuple[CueList, ...]:
        """The compiled lists, in search order."""
        return self._rxs

    def search(self, text: str, pos: int = 0, endpos: int = _MAXLEN) -> re.Match[str] | None:
        """First match of any list, like `re.Pattern.search` on the merged list."""
        for rx in self._rxs:
            m = rx.search(text, pos, endpos)
            if m is not None:
                return m
        return None

    def match(self, text: str) -> re.Match[str] | None:
        """A match anchored at the start of `text` from any list."""
        for rx in self._rxs:
            m = rx.match(text)
            if m is not None:
                return m
        return None

    def finditer(
        self, text: str, pos: int = 0, endpos: int = _MAXLEN
    ) -> Iterator[re.Match[str]]:
        """Matches of every list (not merged into one left-to-right sequence)."""
        for rx in self._rxs:
            yield from rx.finditer(text, pos, endpos)


class _Subject:
    """Nearest person marker before a trigger: the first, second and third person lists
    of one scope merged into one alternation of numbered groups, so each token suffix
    costs one `match` instead of one per list and kind (the group says which kind; the
    alternation order keeps the old first > second > third priority)."""

    __slots__ = ("_names", "_rx")

    _KINDS = (("first_person", "first"), ("second_person", "second"), ("third_person", "third"))

    def __init__(self, cues: dict[str, _CueRx]) -> None:
        parts: list[str] = []
        names: list[str] = []
        for kind, name in self._KINDS:
            rx = cues.get(kind)
            for one in rx.patterns if rx is not None else ():
                parts.append(f"({one.pattern})")
                names.append(name)
        self._rx = re.compile("|".join(parts)) if parts else None
        if self._rx is not None and self._rx.groups != len(names):
            raise ValueError("person cue lists must not contain capturing groups")
        self._names = tuple(names)

    def __call__(self, before: str) -> str | None:
        rx = self._rx
        if rx is None:
            return None
        toks = before.split()[-_SUBJ_WINDOW:]
        for i in range(len(toks) - 1, -1, -1):
            m = rx.match(" ".join(toks[i:]))
            if m is not None:
                return self._names[(m.lastindex or 1) - 1]
        return None


class _Idioms:
    """Idiom spans around a hit, searched only near it: most messages reaching the
    context rules have one hit, and scanning the whole message cost more than the rest
    of the rules. An idiom longer than _IDIOM_REACH would be missed (none is near)."""

    __slots__ = ("_dp", "_rx")

    def __init__(self, rx: _CueRx | None, dp: str) -> None:
        self._rx = rx
        self._dp = dp

    def overlaps(self, start: int, end: int) -> bool:
        if self._rx is None:
            return False
        lo = max(0, start - _IDIOM_REACH)
        hi = min(len(self._dp), end + _IDIOM_REACH)
        return any(m.start() < end and start < m.end() for m in self._rx.finditer(self._dp, lo, hi))


@dataclass(slots=True)
class _Hit:
    trig: Trigger
    start: int  # offsets into the view the trigger ran on
    end: int
    light: bool  # True when found on the light view (contact patterns)
    severity: Severity
    extra: tuple[str, ...] = ()  # categories added by context (pills as the method)


class _Ctx:
    """Message-level cues, each searched lazily (most hits need only a few of them)."""

    __slots__ = ("_cache", "_cues", "_dp", "_lt")

    def __init__(self, cues: dict[str, _CueRx], dp: str, lt: str) -> None:
        self._cues = cues
        self._dp = dp
        self._lt = lt
        self._cache: dict[str, bool] = {}

    def __getattr__(self, kind: str) -> bool:
        # Only called for names that are not slots: the cue kinds.
        try:
            return self._cache[kind]
        except KeyError:
            pass
        rx = self._cues.get(kind)
        found = bool(rx and rx.search(self._dp))
        if not found and rx is not None and kind in ("hyperbole", "hotline"):
            found = rx.search(self._lt) is not None  # "kkkk", raw digits
        self._cache[kind] = found
        return found


class _AnyCtx:
    """A cue counts at message level if any trigger language's cue list found it."""

    __slots__ = ("_ctxs",)

    def __init__(self, ctxs: list[_Ctx]) -> None:
        self._ctxs = ctxs

    def __getattr__(self, kind: str) -> bool:
        return any(getattr(c, kind) for c in self._ctxs)


class Detector:
    """Classifies one chat message at a time; construct once, share freely (read-only)."""

    def __init__(
        self, lexicon_dir: Path | None = None, model_path: Path | None = DEFAULT_MODEL
    ) -> None:
        """Load and compile every lexicon and the risk model (none when `model_path` is
        None: the lexicon alone); all file I/O happens here, never in classify."""
        self.lexicon_dir = lexicon_dir or DEFAULT_LEXICON_DIR
        self.model: RiskModel | None = RiskModel.load(model_path) if model_path else None
        self.lexicons: list[Lexicon] = load_all(self.lexicon_dir)
        if not self.lexicons:
            raise ValueError(f"no lexicons in {self.lexicon_dir}")
        self.languages = tuple(sorted({lx.lang for lx in self.lexicons} - {"common"}))
        self._tags: dict[str, Trigger] = {}
        self._lang_of_tag: dict[str, str] = {}
        gated: dict[str, list[tuple[str, str]]] = {}
        deep_items: list[tuple[str, str, str]] = []
        light_items: list[tuple[str, str, str]] = []
        for lx in self.lexicons:
            for ti, trig in enumerate(lx.triggers):
                for pi, pat in enumerate(trig.patterns):
                    tag = f"t_{lx.lang}_{ti}_{pi}"
                    self._tags[tag] = trig
                    light = trig.kind == "contact" and lx.lang == "common"
                    if light and trig.gate:
                        gated.setdefault(trig.gate, []).append((pat, tag))
                        continue
                    items = light_items if light else deep_items
                    items.append((pat, tag, lx.lang))
        # Anchors of the compositional layer share the one trigger trie (one scan per
        # message); a hit only sends the message to the rules, never flags it alone.
        for lx in self.lexicons:
            for ci, (concept, pats) in enumerate(sorted(lx.anchors.items())):
                trig = Trigger(f"{lx.lang}.anchor.{concept}", lx.lang, "anchor", (),
                               Severity.NONE, tuple(pats))
                for pi, pat in enumerate(pats):
                    tag = f"a_{lx.lang}_{ci}_{pi}"
                    self._tags[tag] = trig
                    deep_items.append((pat, tag, lx.lang))
        self._rules: list[tuple[Rule, Trigger]] = [
            (r, Trigger(f"rule.{r.id}", lx.lang, r.kind, r.categories, r.severity, ()))
            for lx in self.lexicons
            for r in lx.rules
        ]
        self._same = self._shared_leaves(deep_items)
        self._deep_all = self._compile_deep(deep_items, None)
        # Gated contact triggers (language-independent, common.toml): (gate, patterns).
        self._gated: list[tuple[re.Pattern[str], list[re.Pattern[str]]]] = [
            (re.compile(g), [re.compile(src) for src in trie_regexes(items)])
            for g, items in gated.items()
        ]
        # Gates and their patterns are tried on most messages with a digit, "@" or ":",
        # several us each; one RE2 call rules out those that cannot match (prefilter.py):
        # group k is gate k, group len(gated) + k the patterns behind it.
        self._gates_pf = Prefilter.of_regexes(
            [gate.pattern for gate, _ in self._gated]
            + ["|".join(f"(?:{rx.pattern})" for rx in rxs) for _, rxs in self._gated]
        )
        self._light_all = self._compile(light_items, None, word_start=False)
        # Per-language trigger sets are compiled on first use: the server always
        # classifies with lang=None (people write in any language in any room), and
        # compiling every language up front tripled start-up time.
        self._items = (deep_items, light_items)
        self._deep_by_lang: dict[str, list[TaggedTrie]] = {}
        self._light_by_lang: dict[str, list[re.Pattern[str]]] = {}

        # Cues are scoped per trigger language (+ English + common): merged across all
        # languages they collide ("mein" is German "my" but Hindi "in").
        by_lang: dict[str, dict[str, list[str]]] = {}
        for lx in self.lexicons:
            for kind, pats in lx.cues.items():
                by_lang.setdefault(lx.lang, {}).setdefault(kind, []).extend(pats)
        # Each language's list is compiled once and shared by every scope that includes
        # it (English cues used to be compiled seven times, half of start-up time).
        compiled = {
            src: {k: CueList(v) for k, v in kinds.items()} for src, kinds in by_lang.items()
        }
        self._cues: dict[str, dict[str, _CueRx]] = {}
        for lg in (*self.languages, "common"):
            scope = sorted({lg, "en", "common"})
            kinds = {k for src in scope for k in compiled.get(src, {})}
            self._cues[lg] = {
                k: _CueRx(tuple(compiled[src][k] for src in scope if k in compiled.get(src, {})))
                for k in sorted(kinds)
            }

        # Every language's list of each cue kind a rule names, as one list: a rule whose
        # terms none of these finds cannot fire in any scope (see _rules_may_fire).
        rule_kinds = sorted({
            t for rule, _ in self._rules for t in (*rule.near, *rule.also, *rule.any)
            if t.islower()
        })
        self._cues_any: dict[str, _CueRx] = {
            k: _CueRx((CueList([p for src in sorted(by_lang) for p in by_lang[src].get(k, ())]),))
            for k in rule_kinds
            if any(k in kinds for kinds in by_lang.values())
        }
        self._rules_by_anchor: dict[str, list[Rule]] = {}
        for rule, _ in self._rules:
            self._rules_by_anchor.setdefault(rule.anchor, []).append(rule)

        self._subjects = {lg: _Subject(cues) for lg, cues in self._cues.items()}
        # Cheap language guess for English/neutral triggers ("suicide", "kms") that show
        # up inside other languages: they then use that language's cues as well.
        self._stopwords = {
            lx.lang: frozenset(normalize(" ".join(lx.stopwords))[1].split())
            for lx in self.lexicons
            if lx.stopwords and lx.lang != "en"
        }
        post = [p for cues in by_lang.values() for p in cues.get("post_negation", [])]
        self._post_negation = CueList(post) if post else None

    def _shared_leaves(
        self, items: list[tuple[str, str, str]]
    ) -> dict[str, tuple[tuple[Trigger, str], ...]]:
        """Trie groups whose exact pattern also belongs to other triggers or anchors.

        Identical patterns share one trie leaf and the match names only the first group,
        so a farewell phrase that is also a contact phrase, or a trigger phrase that is
        also a concept's anchor, would be seen as one of them only. Keyed by the group
        name a match reports; each entry lists every (trigger, language) with the pattern.
        """
        by_src: dict[str, list[tuple[str, str]]] = {}
        for pat, tag, lang in items:
            for k, e in enumerate(expand(pat)):
                by_src.setdefault(e, []).append((f"{tag}x{k}", lang))
        out: dict[str, tuple[tuple[Trigger, str], ...]] = {}
        for groups in by_src.values():
            owners: dict[int, tuple[Trigger, str]] = {}
            for group, lang in groups:
                trig = self._tags[tag_of(group)]
                owners.setdefault(id(trig), (trig, lang))
            if len(owners) > 1:
                for group, _ in groups:
                    out[group] = tuple(owners.values())
        return out

    def _triggers_of(self, group: str | None, scope: frozenset[str] | None) -> list[Trigger]:
        """Every trigger behind one trie match (see _shared_leaves), within the
        languages the scan was limited to (None: all)."""
        same = self._same.get(group or "")
        if same is None:
            return [self._tags[tag_of(group)]]
        return [t for t, lang in same if scope is None or lang in scope]

    def _scope(self, lang: str | None) -> frozenset[str] | None:
        """The trigger languages scanned for a message with this language hint: its own,
        English and common; None (all of them) when there is no hint or it is unknown."""
        if not lang or lang not in self.languages:
            return None
        return frozenset({lang, "en", "common"})

    def _patterns(self, lang: str | None) -> tuple[list[TaggedTrie], list[re.Pattern[str]]]:
        """The trigger regexes for `lang` (all languages when None or unknown)."""
        scope = self._scope(lang)
        if lang is None or scope is None:
            return self._deep_all, self._light_all
        deep = self._deep_by_lang.get(lang)
        if deep is None:
            deep = self._deep_by_lang[lang] = self._compile_deep(self._items[0], scope)
            self._light_by_lang[lang] = self._compile(self._items[1], scope, word_start=False)
        return deep, self._light_by_lang[lang]

    @staticmethod
    def _chosen(
        items: list[tuple[str, str, str]], scope: frozenset[str] | None
    ) -> list[tuple[str, str]]:
        return [(p, t) for p, t, lg in items if scope is None or lg in scope]

    @classmethod
    def _compile(
        cls, items: list[tuple[str, str, str]], scope: frozenset[str] | None, *, word_start: bool
    ) -> list[re.Pattern[str]]:
        chosen = cls._chosen(items, scope)
        if not chosen:
            return []
        return [re.compile(src) for src in trie_regexes(chosen, word_start=word_start)]

    @classmethod
    def _compile_deep(
        cls, items: list[tuple[str, str, str]], scope: frozenset[str] | None
    ) -> list[TaggedTrie]:
        """The deep trigger tries (word-start), split for fast scanning (see TaggedTrie)."""
        chosen = cls._chosen(items, scope)
        return tagged_tries(chosen, word_start=True) if chosen else []

    def _guess_lang(self, dp: str, hint: str | None) -> str:
        """The message's language for cue scoping: the hint, else stopword votes."""
        if hint in self._cues:
            return hint or "en"
        words = set(dp.split())
        best, votes = "en", 1
        for lg, stop in self._stopwords.items():
            n = len(words & stop)
            if n > votes:
                best, votes = lg, n
        return best

    @staticmethod
    def _has(cues: dict[str, _CueRx], kind: str, text: str) -> bool:
        rx = cues.get(kind)
        return bool(rx and rx.search(text))

    # ------------------------------------------------------------------ classify

    def classify(self, text: str, *, room: str = "general", lang: str | None = None) -> Verdict:
        """Return the verdict for one message. Pure: same input, same output.

        The lexicon reads first. The risk model then gets a say unless the lexicon saw
        a trigger and set it aside by context (negation, idiom, someone else's story,
        news, support): a bag of words cannot see "not" bind to "suicidal", the rules
        can. Most messages cost the model one sum (the risk head)."""
        if not text:
            return NO_RISK
        lt, dp = normalize(text)
        verdict, sight = self._lexicon(text, lt, dp, room, lang)
        model = self.model
        if model is None:
            return verdict
        cats, sev, added = decide(
            verdict.categories, verdict.severity, sight, model.reading(dp), model
        )
        if not added:
            if verdict.categories and not cats:
                return NO_RISK  # vetoed by the model (classifier.decide)
            if sev == verdict.severity:
                return verdict
            return Verdict(verdict.categories, sev, verdict.evidence)
        return self._model_evidence(text, dp, verdict, cats, sev, added, model)

    def lexicon_verdict(
        self, text: str, *, room: str = "general", lang: str | None = None
    ) -> tuple[Verdict, int]:
        """The lexicon's verdict alone, and what it saw: NOTHING, SEEN (a trigger or risk
        concept it kept or capped) or SET_ASIDE (every trigger dismissed by context)."""
        if not text:
            return NO_RISK, NOTHING
        lt, dp = normalize(text)
        return self._lexicon(text, lt, dp, room, lang)

    @staticmethod
    def _model_evidence(
        text: str,
        dp: str,
        verdict: Verdict,
        cats: tuple[str, ...],
        sev: Severity,
        added: tuple[str, ...],
        model: RiskModel,
    ) -> Verdict:
        """The verdict with the categories the model added; their evidence is the words
        that weighed most for each."""
        feats = features(dp)
        wanted = {f for c in added for f, _ in model.contributions(feats, c)[:_MODEL_EVIDENCE]}
        _, _, dp2, dmap = normalize_mapped(text)
        assert dp2 == dp  # the two normalisation paths must agree
        evidence = list(verdict.evidence)
        for a, b in word_spans(dp, wanted):
            oa, ob = span_to_original(dmap, a, b)
            evidence.extend(Evidence(oa, ob, c) for c in added)
        evidence.sort(key=lambda e: (e.start, e.end))
        return Verdict(cats, sev, tuple(evidence))

    def _lexicon(
        self, text: str, lt: str, dp: str, room: str, lang: str | None
    ) -> tuple[Verdict, int]:
        """The lexicon's verdict and what it saw (see lexicon_verdict)."""
        if lang is None:
            deep_rx, light_rx = self._deep_all, self._light_all
        else:
            deep_rx, light_rx = self._patterns(lang)
        for i, tt in enumerate(deep_rx):
            start = tt.search(dp)
            if start is not None:
                # The regexes before this one found nothing; this one resumes at its
                # first match (the slow path does not scan the message again).
                return self._classify_slow(text, lt, dp, room, deep_rx, light_rx, lang, (i, start))
        if _LIGHT_GATE.search(lt) is not None:
            for rx in self._light_candidates(lt, light_rx):
                if rx.search(lt) is not None:
                    return self._classify_slow(
                        text, lt, dp, room, deep_rx, light_rx, lang, (len(deep_rx), 0)
                    )
        return NO_RISK, NOTHING

    def _light_candidates(
        self, lt: str, light_rx: list[re.Pattern[str]]
    ) -> Iterator[re.Pattern[str]]:
        """The light (contact) regexes worth running on `lt`: ungated ones, then gated
        ones whose gate matched."""
        yield from light_rx
        can = self._gates_pf.possible(lt)
        n = len(self._gated)
        for k, (gate, rxs) in enumerate(self._gated):
            if k in can and n + k in can and gate.search(lt) is not None:
                yield from rxs

    def _classify_slow(
        self,
        text: str,
        lt: str,
        dp: str,
        room: str,
        deep_rx: list[TaggedTrie],
        light_rx: list[re.Pattern[str]],
        lang_hint: str | None,
        resume: tuple[int, int] = (0, 0),
    ) -> tuple[Verdict, int]:
        """Context rules on the normalised views; offsets are mapped back only at the end
        (most messages reaching here are dropped by context and never need the map).
        Also says what the lexicon saw (see lexicon_verdict): a trigger capped at low,
        as past or joking, or a risk concept without a rule still count as seen (a neutral
        one, NEUTRAL_CONCEPTS, does not)."""
        hits: list[_Hit] = []
        first, pos = resume
        scope = self._scope(lang_hint)  # the languages deep_rx was compiled for
        for tt in deep_rx[first:]:
            for m in tt.finditer(dp, pos):
                for trig in self._triggers_of(m.lastgroup, scope):
                    hits.append(_Hit(trig, m.start(), m.end(), False, trig.severity))
            pos = 0
        if _LIGHT_GATE.search(lt) is not None:
            for rx in self._light_candidates(lt, light_rx):
                for m in rx.finditer(lt):
                    trig = self._tags[tag_of(m.lastgroup)]
                    hits.append(_Hit(trig, m.start(), m.end(), True, trig.severity))
        if not hits:
            return NO_RISK, NOTHING
        judged = any(h.trig.kind not in ("anchor", "contact") for h in hits)
        anchored = any(h.trig.kind == "anchor" for h in hits)
        concept = any(
            h.trig.kind == "anchor" and _concept(h.trig) not in NEUTRAL_CONCEPTS for h in hits
        )
        if anchored and not judged and not self._rules_may_fire(hits, dp, lt):
            # Risk concepts alone ("chat", "meds", "the edge") and no rule that could
            # compose them: what the full pass below would conclude, without its cues.
            return NO_RISK, SEEN if concept else NOTHING
        ctxs: dict[str, tuple[_Ctx, _Idioms]] = {}
        kept: list[_Hit] = []
        low_signal = False
        msg_lang: str | None = None
        breaks: dict[str, list[tuple[int, int]]] = {}
        anchors: list[tuple[str, _Hit]] = []
        for h in hits:
            lang = h.trig.lang
            if lang in ("en", "common"):
                if msg_lang is None:
                    msg_lang = self._guess_lang(dp, lang_hint)
                lang = msg_lang
            if lang not in ctxs:
                cues = self._cues[lang]
                idiom_rx = cues.get("idiom")
                ctxs[lang] = (_Ctx(cues, dp, lt), _Idioms(idiom_rx, dp))
                breaks[lang] = self._breaks(cues, dp)
            if h.trig.kind == "anchor":
                anchors.append((lang, h))
                continue
            ctx, idioms = ctxs[lang]
            verdict = self._judge(h, lang, dp, lt, ctx, idioms, breaks[lang], room)
            if verdict is None:
                continue
            if verdict == Severity.LOW and h.trig.kind != "contact":
                low_signal = True
                continue
            h.severity = verdict
            kept.append(h)
        if anchors:
            low_signal |= self._apply_rules(anchors, dp, ctxs, breaks, kept)
        self._escalate(kept, ctxs)

        if not kept:
            if judged and not low_signal:
                sight = SET_ASIDE
            else:
                sight = SEEN if low_signal or concept else NOTHING
            return (Verdict((), Severity.LOW, ()) if low_signal else NO_RISK), sight
        cats = {c for h in kept for c in (*h.trig.categories, *h.extra)}
        severity = max(h.severity for h in kept)
        if low_signal:
            severity = max(severity, Severity.LOW)
        lt2, lmap, dp2, dmap = normalize_mapped(text)
        assert lt2 == lt and dp2 == dp  # the two normalisation paths must agree
        evidence: list[Evidence] = []
        seen: set[tuple[int, int, str]] = set()
        for h in sorted(kept, key=lambda x: x.start):
            a, b = span_to_original(lmap if h.light else dmap, h.start, h.end)
            for c in (*h.trig.categories, *h.extra):
                if (a, b, c) not in seen:
                    seen.add((a, b, c))
                    evidence.append(Evidence(a, b, c))
        out = Verdict(tuple(c for c in CATEGORIES if c in cats), severity, tuple(evidence))
        if is_any_risk(out.categories, out.severity) or low_signal or concept:
            return out, SEEN
        return out, SET_ASIDE if judged else NOTHING

    # ------------------------------------------------------------------ context

    @staticmethod
    def _breaks(cues: dict[str, _CueRx], text: str) -> list[tuple[int, int]]:
        """Clause boundaries: punctuation and 'but'-like words, found once per message."""
        punct = _PUNCT_BREAK if "-" in text else _PUNCT_ONLY_BREAK
        out = [m.span() for m in punct.finditer(text)]
        rx = cues.get("clause_break")
        if rx is not None:
            out.extend(m.span() for m in rx.finditer(text))
        out.sort()
        return out

    @staticmethod
    def _clause(breaks: list[tuple[int, int]], n: int, start: int, end: int) -> tuple[int, int]:
        """Bounds of the clause around [start, end)."""
        a, b = 0, n
        for bs, be in breaks:
            if be <= start:
                a = be
            elif bs >= end:
                b = bs
                break
        return a, b

    def _judge(
        self,
        h: _Hit,
        lang: str,
        dp: str,
        lt: str,
        ctx: _Ctx,
        idioms: _Idioms,
        breaks: list[tuple[int, int]],
        room: str,
    ) -> Severity | None:
        """Severity for one hit after local context, or None when the hit is discarded.

        Every check that discards comes before the first one that returns a severity, so
        their order does not change the result; the cheap local ones run first ("if you
        are thinking about suicide" is common in support talk and dropped by its subject).
        """
        kind = h.trig.kind
        if kind == "contact":
            return self._judge_contact(h, lt, ctx, room)
        cues = self._cues[lang]
        ca, cb = self._clause(breaks, len(dp), h.start, h.end)
        before = dp[ca : h.start]
        subj = self._subjects[lang](before)
        if subj == "second" and kind in _SELF_KINDS and kind != "prep":
            return None  # the same test as below, where prep takes its own branch
        if idioms.overlaps(h.start, h.end):
            return None
        after = dp[h.end : cb]
        neg_before = " ".join(before.split()[-_NEG_WINDOW:])
        neg_rx = cues.get("negation")
        if neg_rx is not None and neg_before:
            # The trigger itself is appended so negation cues can look ahead into it
            # ("why don't you go hang yourself" is not a negation); only cues that start
            # before the trigger count.
            probe = f"{neg_before} {dp[h.start : h.end]}"
            if any(m.start() < len(neg_before) for m in neg_rx.finditer(probe)):
                return None
        # Hindi puts the negation after the verb ("nuksan nahi pahunchaunga"); Hindi
        # speakers do so in mixed-language messages too.
        post_rx = self._post_negation
        if post_rx is not None and post_rx.search(" ".join(after.split()[:_POST_NEG_WINDOW])):
            return None
        sev = h.severity

        if h.trig.unless and any(getattr(ctx, r) for r in h.trig.unless):
            return None  # "goodbye everyone, see you tomorrow"; "on the bridge in traffic"
        if kind == "prep":
            # Farewells address the reader ("tell my mom", "if anyone reads this", "don't
            # blame yourselves"), so a "you" before them does not make them about someone
            # else. News or teaching framing only counts inside the clause before the hit.
            gen_rx = cues.get("generic")
            if ctx.fiction or (gen_rx is not None and gen_rx.search(before)):
                return None
            if subj == "third" and (ctx.support or ctx.generic):
                return None
        elif kind in _SELF_KINDS:
            # Who is at risk: "you" talk is not a disclosure; a third person is (a friend
            # at risk) unless the message is supportive or generic; no subject at all is
            # the writer, unless the framing is generic (news, "if anyone ...").
            if subj == "second":
                return None
            if subj == "third" and (ctx.support or ctx.generic or ctx.fiction):
                return None
            if subj is None and (ctx.generic or ctx.fiction):
                return None
        elif kind == "encourage":
            reported = cues.get("reported")
            if reported is not None and reported.search(before):
                return None
            if ctx.support or ctx.fiction or subj == "third":
                return None  # "the character kills himself in the book" narrates
        elif kind == "threat":
            if ctx.fiction or (ctx.hyperbole and not ctx.method):
                return None  # "gonna kill you next round", "kill him lol"
        elif kind in ("abuse", "grooming") and (ctx.support or ctx.generic) and subj != "first":
            return None

        if kind in _PAST_AWARE:
            clause = dp[ca:cb]
            if kind in ("act", "history"):
                distant = (ctx.past or ctx.recovery) and not ctx.recent
            else:
                distant = self._has(cues, "past", clause) and not ctx.recent
            if distant:
                if ctx.present:
                    sev = max(sev, Severity.HIGH)
                else:
                    return Severity.LOW
            elif kind == "history" and ctx.recent:
                sev = max(sev, Severity.HIGH)

        if (
            kind in _HYPERBOLE_CAPPED
            and kind != "threat"
            and (ctx.hyperbole or ctx.trivial)
            and not (ctx.method or ctx.time or ctx.prep)
        ):
            return Severity.LOW
        if h.trig.requires and not any(getattr(ctx, r) for r in h.trig.requires):
            return Severity.LOW  # vague on its own ("I'm done"), risk only with a means
        return sev

    # ------------------------------------------------------------------ compositional

    def _anchor_alive(
        self, h: _Hit, cues: dict[str, _CueRx], dp: str, idioms: _Idioms,
        breaks: list[tuple[int, int]],
    ) -> bool:
        """An anchor counts unless it sits in an idiom or is negated just before it."""
        if idioms.overlaps(h.start, h.end):
            return False
        ca, cb = self._clause(breaks, len(dp), h.start, h.end)
        before = dp[ca : h.start]
        # Negation words inside despair, rumination or wishing ("ich kann nicht mehr und die
        # klingen", "j'arrête pas de penser à me pendre") are part of the distress, not a
        # denial: those spans are blanked before looking for a negation.
        for k in ("despair", "rumination", "wishing"):  # "wouldn't mind if a bus hit me"
            rx = cues.get(k)
            if rx is None:
                continue
            for m in rx.finditer(dp, ca, h.start):
                a, b = m.start() - ca, m.end() - ca
                before = before[:a] + " " * (b - a) + before[b:]
        neg_before = " ".join(before.split()[-_NEG_WINDOW:])
        neg_rx = cues.get("negation")
        if neg_rx is not None and neg_before:
            # Only a negation that ends before the anchor counts: "hope i do not wake up"
            # has "do not" running into the anchor "not wake up".
            probe = f"{neg_before} {dp[h.start : h.end]}"
            if any(m.end() <= len(neg_before) for m in neg_rx.finditer(probe)):
                return False
        post_rx = self._post_negation
        after = " ".join(dp[h.end : cb].split()[:_POST_NEG_WINDOW])
        return not (post_rx is not None and post_rx.search(after))

    def _apply_rules(
        self,
        anchors: list[tuple[str, _Hit]],
        dp: str,
        ctxs: dict[str, tuple[_Ctx, _Idioms]],
        breaks: dict[str, list[tuple[int, int]]],
        kept: list[_Hit],
    ) -> bool:
        """Compositional rules over the anchors (common.toml [[rule]]); appends the hits
        of the rules that fire to `kept` and returns True when one was capped at low."""
        alive: list[tuple[str, _Hit]] = []
        concepts: dict[str, set[int]] = {}
        for lang, h in anchors:
            if self._anchor_alive(h, self._cues[lang], dp, ctxs[lang][1], breaks[lang]):
                alive.append((lang, h))
                concepts.setdefault(_concept(h.trig), set()).add(h.start)
        if not alive:
            return False
        low = False
        n = len(dp)

        def has(term: str, ctx: _Ctx) -> bool:
            return _rule_term(term, concepts, lambda kind: bool(getattr(ctx, kind)))

        for rule, trig in self._rules:
            for lang, h in alive:
                if _concept(h.trig) != rule.anchor:
                    continue
                cues = self._cues[lang]
                ctx = ctxs[lang][0]
                lo, hi = max(0, h.start - rule.window), min(n, h.end + rule.window)
                spans = [(h.start, h.end)]
                for k in rule.near:
                    rx = cues.get(k)
                    m = rx.search(dp, lo, hi) if rx is not None else None
                    if m is None:
                        break
                    spans.append(m.span())
                if len(spans) <= len(rule.near):  # a near cue was missing
                    continue
                if not all(has(t, ctx) for t in rule.also):
                    continue
                if rule.any and not any(has(t, ctx) for t in rule.any):
                    continue
                if any(self._guard(t, ctx, cues, dp, spans) for t in rule.unless):
                    continue
                if ctx.generic:
                    continue
                ca, cb = self._clause(breaks[lang], n, h.start, h.end)
                if rule.self_only:
                    subj = self._subjects[lang](dp[ca : h.start])
                    if subj in ("second", "third"):
                        continue  # self or no subject only: "he already fixed the belt"
                past = (rx := cues.get("past")) is not None and rx.search(dp, ca, cb)
                if rule.past_capped and (past or ctx.recovery) and not (ctx.recent or ctx.present):
                    low = True  # "took 40 pills when I was 16, five years clean"
                    continue
                if rule.capped_by_joking and (ctx.hyperbole or ctx.trivial):
                    low = True
                    continue
                sev = rule.severity
                if any(has(t, ctx) for t in rule.imminent_with):
                    sev = Severity.IMMINENT
                kept.append(_Hit(trig, h.start, h.end, False, sev))
                break
        return low

    def _rules_may_fire(self, hits: list[_Hit], dp: str, lt: str) -> bool:
        """False only when every hit is an anchor and no rule for any of them could fire:
        a `near` cue missing from its window, an `also` term or every `any` term absent,
        judged with every language's cue lists (a superset of each scope's) and every
        anchor found (a superset of those alive). _apply_rules would then fire nothing
        and cap nothing at low. Most anchor hits in ordinary chat ("meds", "chat", "the
        edge") end here."""
        n = len(dp)
        starts: dict[str, set[int]] = {}
        for h in hits:
            if h.trig.kind != "anchor":
                return True
            starts.setdefault(_concept(h.trig), set()).add(h.start)
        ctx = _Ctx(self._cues_any, dp, lt)  # message-level cues, as _apply_rules reads them

        def has(term: str) -> bool:
            return _rule_term(term, starts, lambda kind: bool(getattr(ctx, kind)))

        for h in hits:
            for rule in self._rules_by_anchor.get(_concept(h.trig), ()):
                lo, hi = max(0, h.start - rule.window), min(n, h.end + rule.window)
                if (
                    all(
                        (rx := self._cues_any.get(k)) is not None and rx.search(dp, lo, hi)
                        for k in rule.near
                    )
                    and all(has(t) for t in rule.also)
                    and (not rule.any or any(has(t) for t in rule.any))
                ):
                    return True
        return False

    @staticmethod
    def _guard(
        term: str, ctx: _Ctx, cues: dict[str, _CueRx], dp: str, spans: list[tuple[int, int]]
    ) -> bool:
        """An `unless` term of a rule. A guard cue overlapping the evidence itself (the
        anchor or a `near` cue) does not count: "driving my car into a wall" is not a
        drive over a bridge, "thinking about climbing over" is not a climbing trip."""
        if not term.islower() or not getattr(ctx, term):
            return False
        rx = cues.get(term)
        return rx is None or any(
            all(m.end() <= a or m.start() >= b for a, b in spans) for m in rx.finditer(dp)
        )

    def _judge_contact(self, h: _Hit, lt: str, ctx: _Ctx, room: str) -> Severity | None:
        frag = lt[h.start : h.end]
        if h.trig.id.endswith("phone"):
            digits = sum(c.isdigit() for c in frag)
            if not 7 <= digits <= 15 or ctx.hotline:
                return None
        if room in _CONTACT_ROOMS_MEDIUM or ctx.off_platform or h.trig.id.endswith(_PERSONAL):
            # An invitation off the platform ("dm me", "text me instead", "where the mods
            # can't read") takes a conversation away from the moderators: medium anywhere.
            return Severity.MEDIUM
        return Severity.LOW  # a handle or address shared openly, in a room of adults

    def _escalate(
        self, kept: list[_Hit], ctxs: dict[str, tuple[_Ctx, _Idioms]]
    ) -> None:
        """Message-level Columbia escalation: plan, time and preparation raise severity."""
        if not kept:
            return
        ctx = _AnyCtx([c for c, _ in ctxs.values()])
        selfish = [
            h for h in kept if h.trig.kind in _SELF_KINDS and _SELF_CATS & set(h.trig.categories)
        ]
        prep_hits = [h for h in selfish if h.trig.kind == "prep"]
        other_self = [h for h in selfish if h.trig.kind != "prep"]
        prep = ctx.prep or bool(prep_hits)
        # Two separate preparatory or farewell acts ("gave my cat away" + "wrote letters",
        # "sorry for everything" + "love you all. goodbye") are a final goodbye.
        several_preps = len({h.start for h in prep_hits}) >= 2
        for h in selfish:
            kind = h.trig.kind
            if kind == "prep":
                if other_self or ctx.time or several_preps or ctx.despair:
                    h.severity = Severity.IMMINENT
            elif kind == "wish":
                if prep:
                    h.severity = max(h.severity, Severity.IMMINENT if ctx.time else Severity.HIGH)
                elif ctx.method:
                    h.severity = max(h.severity, Severity.HIGH)
            elif kind in ("ideation", "intent", "history"):
                if h.severity >= Severity.HIGH and (ctx.time or prep):
                    h.severity = Severity.IMMINENT
                elif ctx.method or ctx.time:
                    h.severity = max(h.severity, Severity.HIGH)
        if ctx.drug:
            # Suicidal intent with pills or drugs as the means is also an overdose risk.
            for h in selfish:
                if h.severity >= Severity.HIGH and "overdose_risk" not in h.trig.categories:
                    h.extra = ("overdose_risk",)
        for h in kept:
            if h.trig.kind == "threat" and h.severity >= Severity.HIGH and (ctx.method or ctx.time):
                h.severity = Severity.IMMINENT


@functools.cache
def default_detector() -> Detector:
    """Process-wide detector built from the bundled lexicons (compiled once)."""
    return Detector()
