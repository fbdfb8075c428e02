"""One-pass text normalisation with an optional map back to original offsets.

Evasion (homoglyphs, fullwidth, zero-width joiners, leetspeak, spaced or dotted letters,
stretched letters) is undone here so the lexicons can be written as plain words. The fast
path (no offset map) is used for every message; the mapped path only runs when a trigger
fired and evidence spans are needed. Both paths must produce the same string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from moderation.prefilter import Prefilter

# Invisible characters used to split words past keyword filters; also variation selectors
# and skin-tone modifiers so emoji compare equal.
_INVISIBLE = [
    0x00AD, 0x034F, 0x061C, 0x180E, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF,
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0xFE00, 0xFE10),
    *range(0x1F3FB, 0x1F400),
]

# Apostrophes vanish so "I'm", "I\u2019m" and "Im" are the same token.
_APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4\u2032"
_ASCII_ODD = "'`"  # the only ASCII characters that do not fold to exactly one character

# Look-alike letters from other scripts (after casefold). Only scripts we do not support
# as languages are folded, so this never damages Devanagari.
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",  # noqa: RUF001
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",  # noqa: RUF001
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u",  # noqa: RUF001
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",  # noqa: RUF001
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "ı": "i", "ɡ": "g",  # noqa: RUF001
    "ɑ": "a", "ⅼ": "l",  # noqa: RUF001
}

# Emoji that carry meaning in crisis talk become words, padded with spaces.
# Laughing faces become "lol" so the hyperbole cue sees them. Skull is left alone on
# purpose: "💀" mostly means "I'm dead (laughing)".
_EMOJI = {
    "💊": "pills", "🔪": "knife", "🗡": "knife", "🔫": "gun", "🪢": "rope", "🪦": "grave",
    "⚰": "coffin", "💉": "needle", "🩸": "blood", "🌉": "bridge", "🍺": "alcohol",
    "🍷": "alcohol", "🥃": "alcohol", "🍾": "alcohol", "😂": "lol", "🤣": "lol",
    "😹": "lol", "😆": "lol", "👋": "bye",
}

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
         "@": "a", "$": "s", "!": "i", "|": "l"}

_L = r"[^\W\d_]"
_SEP = r"[ .*_\-~+•·/|]"
# Regexes below start with a character class where possible so `re` can skip ahead
# quickly; lookbehinds come after the first consumed character.
# Digits right after a letter, or symbols between letters, are leetspeak ("k1ll", "k!ll").
# A digit after a space is a number ("3am", "30 pills") and is left alone.
_LEET_RE = re.compile(r"[013457@$!|](?<=[a-z].)(?:(?<=[013457])|(?=[a-z]))")
# Runs of single letters split by spaces or symbols: "s u i c i d e", "k.i.l.l", "d*i*e".
_SEP_RUN_RE = re.compile(
    rf"(?<!{_L}){_L}(?:(?: {_L}(?!{_L})){{3,}}|(?:[.*_\-~+•·/|]{{1,2}}{_L}(?!{_L})){{2,}})"
)
# Cheap gate for the above: two single letters in a row between separators.
_SEP_GATE_RE = re.compile(rf"{_SEP}{{1,2}}{_L}{_SEP}{{1,2}}{_L}(?:{_SEP}|$)(?<!{_L}{_L}{_SEP})")
# A symbol inside a word: "su*cide", "self-harm" -> "selfharm".
_INNER_SYM_RE = re.compile(r"[*_~•·.\-+](?<=[a-z].)[*_~•·.\-+]*(?=[a-z])")
# Stretched letters: "diiiie" -> "die". Patterns are collapsed the same way. ASCII only:
# after folding, that is where evasion lives, and the narrow class is much faster.
_REPEAT_RE = re.compile(r"([a-z])\1+")
# Same result, faster for the hot path: drop every letter that equals the next one.
_REPEAT_FAST_RE = re.compile(r"([a-z])(?=\1)")

# What each pass above needs in the text, in RE2 syntax (no look-around, so a little
# looser than the pass itself): one RE2 call tells which passes can change a message,
# which is usually none, and skipping a pass that cannot match changes nothing.
_RE2_SEP = "[ .*_\\-~+\u2022\u00b7/|]"
_RE2_LETTER = "[A-Za-z\\x{80}-\\x{10ffff}]"  # ASCII letters, any non-ASCII character
_PASSES = Prefilter(
    [
        "[a-z][013457@$!|]",  # _LEET_RE: a leet symbol right after a letter
        # _SEP_GATE_RE: two single letters between separators, then one or the end
        f"{_RE2_SEP}{{1,2}}{_RE2_LETTER}{_RE2_SEP}{{1,2}}{_RE2_LETTER}(?:{_RE2_SEP}|\\n?\\z)",
        "[a-z][*_~\u2022\u00b7.\\-+]+[a-z]",  # _INNER_SYM_RE: symbols inside a word
    ]
)
_LEET_PASS, _SEP_PASS, _INNER_PASS = 0, 1, 2


def _char_out(cp: int) -> str:
    ch = chr(cp)
    s = ch.casefold()
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not 0x300 <= ord(c) <= 0x36F)
    return "".join(_HOMOGLYPHS.get(c, c) for c in s)


class _Table(dict[int, str]):
    """str.translate table that fills itself lazily for code points not seen yet."""

    def __missing__(self, cp: int) -> str:
        out = _char_out(cp)
        self[cp] = out
        return out


def _build_table() -> _Table:
    table = _Table()
    for cp in range(0x250):
        table[cp] = _char_out(cp)
    for cp in range(0x900, 0x980):
        table[cp] = _char_out(cp)
    for cp in _INVISIBLE:
        table[cp] = ""
    for ch in _APOSTROPHES:
        table[ord(ch)] = ""
    for ch, word in _EMOJI.items():
        table[ord(ch)] = f" {word} "
    for ch, latin in _HOMOGLYPHS.items():
        table[ord(ch)] = latin
        table[ord(ch.upper())] = latin
    return table


TABLE = _build_table()


def _sep_keep(text: str) -> list[int]:
    """Letter positions to keep from a separated run, or all (no join) if too weak."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    spaced_only = all(c == " " or c.isalpha() for c in text)
    if spaced_only and len(letters) < 4:
        return list(range(len(text)))  # "u r a": texting, not evasion
    return letters


def _leet_sub(m: re.Match[str]) -> str:
    return _LEET[m.group()]


def _sep_sub(m: re.Match[str]) -> str:
    t = m.group()
    return "".join(t[i] for i in _sep_keep(t))


# Runs of non-ASCII characters, with the spaces between them (Devanagari words, emoji).
_WIDE_RUN_RE = re.compile(r"[^\x00-\x7f]+(?: +[^\x00-\x7f]+)*")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(TABLE)


def light(text: str) -> str:
    """Casefold/NFKD/homoglyph/invisible/emoji fold only; digits and punctuation intact.

    Equal to text.translate(TABLE), which looks every character up in a dict (about 8 us
    for 200 characters); what TABLE does to ASCII is done in C instead (bytes.lower()
    leaves the bytes of non-ASCII characters alone), and only the non-ASCII runs are
    looked up."""
    if text.isascii():
        return text.lower().replace("'", "").replace("`", "")
    try:
        low = text.encode().lower().decode()
    except UnicodeEncodeError:  # lone surrogates
        return text.translate(TABLE)
    return _WIDE_RUN_RE.sub(_fold_run, low.replace("'", "").replace("`", ""))


def deep_from_light(s: str) -> str:
    """Undo leetspeak, separated letters, inner symbols and stretched letters."""
    return unstretch(undo_evasion(s))


def unstretch(s: str) -> str:
    """Collapse stretched letters ("diiiie" -> "die"), the last step to the deep view."""
    return _REPEAT_FAST_RE.sub("", s)


def undo_evasion(s: str) -> str:
    """Undo leetspeak, separated letters and inner symbols (deep view, still stretched)."""
    can = _PASSES.possible(s)
    if _LEET_PASS in can:
        t = _LEET_RE.sub(_leet_sub, s)
        if t != s:  # the later passes see the changed text
            s, can = t, _PASSES.possible(t)
    if _SEP_PASS in can and _SEP_GATE_RE.search(s):
        t = _SEP_RUN_RE.sub(_sep_sub, s)
        if t != s:
            s, can = t, _PASSES.possible(t)
    if _INNER_PASS in can:
        s = _INNER_SYM_RE.sub("", s)
    return s


def normalize(text: str) -> tuple[str, str]:
    """(light, deep) views of a message, without offset maps (the hot path)."""
    lt = light(text)
    return lt, deep_from_light(lt)


def _delete(
    regex: re.Pattern[str], s: str, idx: list[int], keep: Callable[[str], list[int]]
) -> tuple[str, list[int]]:
    out: list[str] = []
    out_idx: list[int] = []
    pos = 0
    for m in regex.finditer(s):
        a, b = m.span()
        out.append(s[pos:a])
        out_idx.extend(idx[pos:a])
        t = s[a:b]
        for k in keep(t):
            out.append(t[k])
            out_idx.append(idx[a + k])
        pos = b
    out.append(s[pos:])
    out_idx.extend(idx[pos:])
    return "".join(out), out_idx


def normalize_mapped(text: str) -> tuple[str, list[int], str, list[int]]:
    """(light, light_map, deep, deep_map): map[i] is the original index of output char i."""
    lt = text.translate(TABLE)
    # Most characters fold to exactly one character; only the few that vanish or expand
    # (apostrophes, invisibles, emoji words, ligatures) break the identity map, so the map
    # is built in runs between them instead of character by character. In ASCII only the
    # two apostrophes vanish (and nothing expands).
    if text.isascii():
        odd = [ch for ch in _ASCII_ODD if ch in text]
    else:
        odd = [ch for ch in set(text) if len(TABLE[ord(ch)]) != 1]
    if not odd:
        lmap = list(range(len(text)))
    else:
        where: list[int] = []
        for ch in odd:
            i = text.find(ch)
            while i >= 0:
                where.append(i)
                i = text.find(ch, i + 1)
        where.sort()
        lmap = []
        pos = 0
        for i in where:
            lmap.extend(range(pos, i))
            lmap.extend([i] * len(TABLE[ord(text[i])]))
            pos = i + 1
        lmap.extend(range(pos, len(text)))
    can = _PASSES.possible(lt)  # as in deep_from_light: skip passes that cannot apply
    s = _LEET_RE.sub(_leet_sub, lt) if _LEET_PASS in can else lt  # one-for-one
    if s != lt:
        can = _PASSES.possible(s)
    dmap = lmap
    if _SEP_PASS in can and _SEP_GATE_RE.search(s):
        s2, dmap = _delete(_SEP_RUN_RE, s, dmap, _sep_keep)
        if s2 != s:
            s, can = s2, _PASSES.possible(s2)
    if _INNER_PASS in can:
        s, dmap = _delete(_INNER_SYM_RE, s, dmap, lambda t: [])
    s, dmap = _drop_repeats(s, dmap)
    return lt, lmap, s, dmap


def _drop_repeats(s: str, idx: list[int]) -> tuple[str, list[int]]:
    """_delete(_REPEAT_RE, s, idx, keep the first letter of each run), without the
    per-match generality (there is a run in most messages)."""
    out: list[str] = []
    out_idx: list[int] = []
    pos = 0
    for m in _REPEAT_RE.finditer(s):
        a = m.start() + 1
        out.append(s[pos:a])
        out_idx.extend(idx[pos:a])
        pos = m.end()
    if not pos:
        return s, idx
    out.append(s[pos:])
    out_idx.extend(idx[pos:])
    return "".join(out), out_idx


def span_to_original(idx: list[int], start: int, end: int) -> tuple[int, int]:
    """Map a [start, end) span of a normalised view back to the original text."""
    if not idx or end <= start:
        return (0, 0)
    return idx[start], idx[end - 1] + 1


def normalize_pattern(pattern: str, *, collapse: bool = True) -> str:
    """Fold a lexicon pattern the way messages are folded (casefold, accents, stretch).

    Leetspeak and separator joining are not applied: patterns are regexes and contain
    digits and punctuation on purpose. A literal space means "optional whitespace".
    """
    s = pattern.translate(TABLE)
    if collapse:
        s = _REPEAT_RE.sub(r"\1", s)
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(s):  # spaces inside [...] stay literal spaces
        c = s[i]
        if c == "\\":
            out.append(s[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif c == " ":
            out.append(r"\s*")
            if s[i + 1 : i + 2] in ("?", "*", "+"):
                i += 1
        else:
            out.append(c)
        i += 1
    return "".join(out)
