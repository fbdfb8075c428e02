"""Support text: safe-messaging rules hold in every language and for every finding."""

from __future__ import annotations

import itertools
import re

import pytest

from moderation.support import LANGUAGES, TEMPLATE_KEYS, TEMPLATES, support_text
from moderation.verdict import CATEGORIES, Severity

#: Method words and their common stems, in every language we write.
METHOD_WORDS = re.compile(
    r"\b(pills?|tablets?|rope|knife|knives|gun|firearm|razor|blade|cut(ting)?|hang(ing)?|"
    r"jump(ing)?|bridge|poison|overdos\w*|suffocat\w*|bleach|noose|kill\w*|suicide\w*|"
    r"pastillas?|cuerda|cuchillo|pistola|veneno|sobredosis|ahorc\w*|cortar\w*|saltar|puente|"
    r"comprimidos?|corda|faca|arma|enforc\w*|pular|ponte|"
    r"cachets?|corde|couteau|pendre|pendaison|surdose|sauter|pont|"
    r"Tabletten|Seil|Messer|Waffe|erhängen|Überdosis|springen|Brücke|Gift)\b|"
    r"गोली|फाँसी|फांसी|ज़हर|जहर|चाकू|आत्महत्या",
    re.IGNORECASE,
)
PROMISES = re.compile(
    r"everything will be|will be (fine|ok)|it gets better|todo (va a|estará) bien|"
    r"tudo vai ficar bem|tout (ira|va aller) bien|alles wird gut|सब ठीक हो जाएगा",
    re.IGNORECASE,
)
#: English-only: "die" is the German article.
ENGLISH_ONLY = re.compile(r"\b(die|dying|dead|death)\b", re.IGNORECASE)
GUILT = re.compile(r"\b(selfish|should have|shame|egoísta|égoïste|egoistisch)\b", re.I)

CATEGORY_SETS = [(c,) for c in CATEGORIES] + [
    ("self_harm_risk", "contact_sharing"),
    ("abuse_disclosure", "encourages_self_harm"),
    (),
]


def all_texts() -> list[tuple[str, tuple[str, ...], Severity, bool, str]]:
    out = []
    for lang, cats, severity, youth in itertools.product(
        (*LANGUAGES, "pt-BR", "xx"), CATEGORY_SETS, Severity, (False, True)
    ):
        out.append((lang, cats, severity, youth, support_text(cats, severity, lang, youth=youth)))
    return out


def test_every_language_has_every_template() -> None:
    assert set(LANGUAGES) >= {"en", "es", "pt", "fr", "de", "hi"}
    for lang, texts in TEMPLATES.items():
        assert set(texts) == set(TEMPLATE_KEYS), lang


def test_no_digits_method_words_promises_or_guilt() -> None:
    for lang, cats, severity, youth, text in all_texts():
        where = (lang, cats, severity, youth)
        assert text.strip(), where
        assert not re.search(r"\d", text), where
        assert not METHOD_WORDS.search(text), (where, METHOD_WORDS.search(text))
        assert not PROMISES.search(text), where
        if TEMPLATES.get(lang[:2]) is None or lang.startswith("en"):
            assert not ENGLISH_ONLY.search(text), where
        assert not GUILT.search(text), where


@pytest.mark.parametrize("lang", LANGUAGES)
def test_wording_differs_by_category(lang: str) -> None:
    texts = {c: support_text((c,), Severity.MEDIUM, lang) for c in CATEGORIES}
    assert len(set(texts.values())) == len(CATEGORIES)
    assert (
        support_text(("contact_sharing",), Severity.LOW, lang, youth=True)
        != texts["contact_sharing"]
    )


def test_english_content() -> None:
    self_harm = support_text(("self_harm_risk",), Severity.HIGH)
    assert "services listed below" in self_harm and "emergency" not in self_harm
    abuse = support_text(("abuse_disclosure",), Severity.MEDIUM)
    assert "not your fault" in abuse
    encourages = support_text(("encourages_self_harm",), Severity.MEDIUM)
    assert "community guidelines" in encourages
    privacy = support_text(("contact_sharing",), Severity.LOW, youth=True)
    assert "privacy" in privacy and "adult you trust" in privacy
    combo = support_text(("overdose_risk", "contact_sharing"), Severity.HIGH)
    assert combo.startswith(support_text(("overdose_risk",), Severity.HIGH))
    assert "contact details" in combo


@pytest.mark.parametrize("lang", LANGUAGES)
def test_imminent_says_call_emergency_now_first(lang: str) -> None:
    for category in ("self_harm_risk", "overdose_risk", "abuse_disclosure"):
        text = support_text((category,), Severity.IMMINENT, lang)
        assert text.startswith(TEMPLATES[lang]["imminent_self"])
    text = support_text(("harm_to_others",), Severity.IMMINENT, lang)
    assert text.startswith(TEMPLATES[lang]["imminent_other"])
    text = support_text(("contact_sharing",), Severity.IMMINENT, lang)
    assert TEMPLATES[lang]["imminent_self"] not in text
    assert TEMPLATES[lang]["imminent_other"] not in text


def test_language_fallback() -> None:
    cats = ("self_harm_risk",)
    assert support_text(cats, Severity.HIGH, "pt-BR") == support_text(cats, Severity.HIGH, "pt")
    assert support_text(cats, Severity.HIGH, "FR_ca") == support_text(cats, Severity.HIGH, "fr")
    assert support_text(cats, Severity.HIGH, "xx") == support_text(cats, Severity.HIGH, "en")
    assert support_text(cats, Severity.HIGH, "") == support_text(cats, Severity.HIGH, "en")
