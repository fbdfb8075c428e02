"""Unit tests for the crisis detector: called directly, no event loop, no Redis."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from moderation.detector import Detector, default_detector
from moderation.verdict import NO_RISK, Severity, Verdict

SH = "self_harm_risk"
OD = "overdose_risk"
HO = "harm_to_others"
AB = "abuse_disclosure"
EN = "encourages_self_harm"
CS = "contact_sharing"


@pytest.fixture(scope="module")
def det() -> Detector:
    return default_detector()


def test_default_detector_is_cached() -> None:
    assert default_detector() is default_detector()


def test_empty_and_benign(det: Detector) -> None:
    assert det.classify("") == NO_RISK
    assert det.classify("had a nice walk with my dog today") == NO_RISK


# ----------------------------------------------------------------- the examples


@pytest.mark.parametrize(
    ("text", "cats", "severity"),
    [
        ("took all my pills an hour ago", {OD, SH}, Severity.IMMINENT),
        ("I wish I could go to sleep and not wake up", {SH}, Severity.MEDIUM),
        ("I've been thinking about killing myself", {SH}, Severity.HIGH),
        (
            "tonight is the night, I've written my letters, goodbye everyone",
            {SH},
            Severity.IMMINENT,
        ),
        ("I tried to end it last year and I'm feeling that way again", {SH}, Severity.HIGH),
        ("kys", {EN}, Severity.HIGH),
        ("you should just kill yourself", {EN}, Severity.HIGH),
        ("nobody would miss you, do it", {EN}, Severity.HIGH),
        ("gonna take all these 💊 tonight", {SH, OD}, Severity.IMMINENT),
    ],
)
def test_named_positives(det: Detector, text: str, cats: set[str], severity: Severity) -> None:
    v = det.classify(text)
    assert set(v.categories) == cats, v
    assert v.severity == severity, v


@pytest.mark.parametrize(
    "text",
    [
        "I'm not suicidal, just tired",
        "I would never hurt myself",
        "this exam is killing me",
        "she killed it on stage",
        "dying of laughter",
        "I could murder a pizza",
        "my feet are killing me",
        "I attempted 5 years ago, now 2 years clean and doing well",
        "if you're thinking about suicide please call 988",
        "the article about suicide rates among veterans",
        "I'll die if I don't get those tickets",
        "ugh kill me now, monday again",
        "I killed the boss",
        "kill the heat and let it simmer",
    ],
)
def test_named_negatives(det: Detector, text: str) -> None:
    v = det.classify(text)
    assert not v.is_risk, v
    assert v.severity <= Severity.LOW


def test_direction_kms_vs_kys(det: Detector) -> None:
    assert det.classify("kms honestly").categories == (SH,)
    assert det.classify("kys honestly").categories == (EN,)


# ----------------------------------------------------------------- coded language


@pytest.mark.parametrize(
    "text",
    [
        "thinking about unaliving myself",
        "i want to unalive myself",
        "sewerslide is all i think about",
        "been thinking about ctb",
        "su1c1dal again",
        "i want to k1ll mys3lf",
        "s u i c i d a l again",
        "k.i.l.l myself",
        "s*u*i*c*i*d*a*l again",
        "i want to diiiiie",
        "\u0455u\u0456\u0441\u0456d\u0430l again",  # Cyrillic look-alikes
        "\uff53\uff55\uff49\uff43\uff49\uff44\uff41\uff4c again",  # fullwidth
        "sui\u200bci\u200ddal again",  # zero-width characters
        "won't be around much longer",
        "I've been giving my stuff away",
        "I wrote my letters last night",
        "everyone would be better off without me",
        "I want to disappear forever",
    ],
)
def test_coded_language(det: Detector, text: str) -> None:
    v = det.classify(text)
    assert SH in v.categories, (text, v)
    assert v.severity >= Severity.MEDIUM


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("mujhe marna chahta hoon yaar", "hi"),
        ("khudkushi ke khayal aate hain", "hi"),
        ("aatmahatya ke baare mein sochta hoon", "hi"),
        ("मैं मरना चाहता हूँ", "hi"),
        ("आत्महत्या के विचार आते हैं", "hi"),
        ("quiero morirme", "es"),
        ("quero morrer", "pt"),
        ("je veux mourir", "fr"),
        ("ich will nicht mehr leben", "de"),
    ],
)
def test_languages(det: Detector, text: str, lang: str) -> None:
    for hint in (lang, None):
        v = det.classify(text, lang=hint)
        assert SH in v.categories, (text, hint, v)


# ----------------------------------------------------------------- rooms and contact


def test_contact_severity_depends_on_room(det: Detector) -> None:
    text = "my insta is @lila.draws if anyone likes drawings"
    youth = det.classify(text, room="youth")
    adult = det.classify(text, room="general")
    assert youth.categories == (CS,) and youth.severity == Severity.MEDIUM
    assert adult.categories == (CS,) and adult.severity == Severity.LOW
    assert youth.is_risk and adult.is_risk  # a category was found in both rooms


@pytest.mark.parametrize(
    "text",
    [
        "add me on snap its lily_22",
        "text me instead 555-0148, the mods read everything here",
        "me chama no zap que aqui todo mundo lê",
        "viens en mp sur insta @lucas.prv, sans les modos",
    ],
)
def test_invitations_off_the_platform_are_medium_in_every_room(det: Detector, text: str) -> None:
    v = det.classify(text, room="general")
    assert CS in v.categories and v.severity == Severity.MEDIUM, v


@pytest.mark.parametrize(
    "text",
    [
        "call me 555-201-8844",
        "mail me: jo.doe@example.com",
        "dm me on telegram",
        "my insta is @sunny.days",
        "join discord.gg/abc123",
    ],
)
def test_contact_forms(det: Detector, text: str) -> None:
    assert CS in det.classify(text, room="youth").categories


def test_hotline_number_is_not_contact(det: Detector) -> None:
    assert det.classify("call the lifeline 1-800-273-8255", room="youth") == NO_RISK
    assert det.classify("@sam thanks for that", room="youth") == NO_RISK


# ----------------------------------------------------------------- evidence spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("honestly I want to kill myself tonight", "kill myself"),
        ("ok so k1ll mys3lf is what i keep thinking", "k1ll mys3lf"),
        ("lately \u0455u\u0456\u0441\u0456d\u0430l again", "\u0455u\u0456\u0441\u0456d\u0430l"),
        ("i feel s u i c i d a l tbh", "s u i c i d a l"),
        ("I\u2019m so sui\u200bcidal", "sui\u200bcidal"),
        ("gonna take all these 💊 tonight", "take all these 💊"),
        ("Ich will nicht mehr leben.", "will nicht mehr leben"),
        ("मैं आत्महत्या के बारे में सोचता हूँ", "आत्महत्या"),
    ],
)
def test_evidence_maps_to_original(det: Detector, text: str, expected: str) -> None:
    v = det.classify(text)
    spans = [text[e.start : e.end] for e in v.evidence]
    # Spans cover the whole matched phrase ("feel s u i c i d a l"); the obfuscated
    # word must be inside one of them, exactly as typed.
    assert any(expected in s for s in spans), (spans, v)
    for e in v.evidence:
        assert 0 <= e.start < e.end <= len(text)
        assert e.category in v.categories


def test_contact_evidence(det: Detector) -> None:
    text = "text me 07700 900123 ok"
    v = det.classify(text, room="youth")
    assert "07700 900123" in [text[e.start : e.end] for e in v.evidence]


def test_to_dict_shape(det: Detector) -> None:
    d = det.classify("I want to kill myself").to_dict()
    assert d["labels"] == [SH]
    assert d["severity"] == "high"
    assert d["evidence"] and set(d["evidence"][0]) == {"start", "end", "category"}


def test_verdict_is_deterministic_and_immutable(det: Detector) -> None:
    a = det.classify("I want to die")
    b = det.classify("I want to die")
    assert a == b
    assert isinstance(a, Verdict)
    with pytest.raises(AttributeError):
        a.severity = Severity.NONE  # type: ignore[misc]


def test_every_trigger_pattern_starts_with_a_literal() -> None:
    """A pattern whose first character is not a literal ("(me )?(meti|...)") cannot join
    the trigger trie and costs a second scan of every message (it took 10 % of the
    lexicon's speed once): start it with a word instead."""
    det = default_detector()
    misc = [t.branches[""].pattern[:120] for t in det._deep_all if "" in t.branches]
    assert misc == []


@pytest.fixture(scope="module")
def lexicon_only() -> Detector:
    return Detector(model_path=None)


# The lexicons alone (the model could hide a missing rule): what the compositional
# concepts and phrase families added from the training sets' misses must find, with
# the category and the exact severity. (text, room, category, severity)
LEXICON_FINDS = [
    # OD_SIGN + a substance taken: an overdose under way, the writer's or a friend's.
    (
        "we each did a bag like 15 min ago and now his lips are going grey, he won't answer me",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "took 5 of my xanax with a bottle of wine and i can't feel my legs",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "nos metimos unas rayas y ahora el corazón me va a mil y me duele el pecho",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    ("minha amiga cheirou e agora tá tendo convulsão no chão", "general", OD, Severity.IMMINENT),
    (
        "mon coloc a pris du G, il respire à peine et je sens qu'il répond plus",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "mein Kumpel hat was gespritzt, er atmet ganz komisch und lässt sich nicht wecken",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "dost ne smack li aur ab hont neele ho gaye, saans bahut dheere",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    # BREAK + used + the old dose or alone (imminent), or only a time (high).
    (
        "got out of rehab on monday, picked up tonight and doing it alone like old times",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "6 meses limpio, ya conseguí y me lo voy a meter como antes, solo en casa",
        "general",
        OD,
        Severity.IMMINENT,
    ),
    (
        "two months clean but my mate dropped some off, gonna use it this weekend",
        "general",
        OD,
        Severity.HIGH,
    ),
    # HIDING + violence under way; strangulation; grooming.
    (
        "dad's drunk and smashing the kitchen, i'm hiding under my bed",
        "general",
        AB,
        Severity.IMMINENT,
    ),
    (
        "está borracho gritando abajo, me encerré en el baño con mi hermanito",
        "general",
        AB,
        Severity.IMMINENT,
    ),
    ("er hat mich gestern gewürgt und kommt um 6 heim", "general", AB, Severity.HIGH),
    (
        "my coach says i'm mature for my age and asked me to delete our chats",
        "general",
        AB,
        Severity.HIGH,
    ),
    # TARGET + a weapon or a payback, with a time.
    (
        "i know where he lives and i'm bringing a bat tonight, he'll pay",
        "general",
        HO,
        Severity.IMMINENT,
    ),
    ("sei onde mora o cara que me bateu, hoje ele vai pagar", "general", HO, Severity.IMMINENT),
    # Daring someone to die.
    ("you keep saying you'll do it. prove it then, coward", "general", EN, Severity.HIGH),
    ("o cara disse que ia pular do prédio, pula logo", "general", EN, Severity.HIGH),
    ("du stehst auf der brücke? dann spring halt endlich", "general", EN, Severity.HIGH),
    ("itna dukhi hai toh latak ja na", "general", EN, Severity.HIGH),
    # Leaving for good, said as such, with a second farewell or a time.
    ("heading to the tracks now. please don't come looking", "general", SH, Severity.IMMINENT),
    ("chau a todos, no me busquen mañana", "general", SH, Severity.IMMINENT),
    ("vou sumir de vez. não me procurem", "general", SH, Severity.IMMINENT),
    (
        "j'ai donné mes affaires, ils ont cru que je faisais du tri. samedi je serai plus là",
        "general",
        SH,
        Severity.IMMINENT,
    ),
    ("main ja raha hu, hamesha ke liye. mujhe dhoondhna mat", "general", SH, Severity.IMMINENT),
    # A filter word in quotation marks about oneself still counts.
    ('i just want to "unalive" myself tonight', "general", SH, Severity.IMMINENT),
    # One's school, a handle without "@", an invitation to another app (youth room).
    ("i go to lincoln middle school, anyone else??", "youth", CS, Severity.MEDIUM),
    ("ich geh aufs schiller-gymnasium, wer noch?", "youth", CS, Severity.MEDIUM),
    ("je suis en 3e au collège Victor Hugo à Nantes", "youth", CS, Severity.MEDIUM),
    ("was ist dein discord? meiner ist nachtfalke_22", "youth", CS, Severity.MEDIUM),
    ("come to the discord server instead, link in my bio", "youth", CS, Severity.MEDIUM),
    # A phone number or a street address reaches the writer offline: medium in any room.
    ("anyone near here wanna catch up? my number is 0412 555 239", "general", CS, Severity.MEDIUM),
    ("moro na Rua das Palmeiras, 322, se alguém da região quiser", "ptsd", CS, Severity.MEDIUM),
    ("i live at 1420 willow creek rd if anyone wants to hang", "general", CS, Severity.MEDIUM),
    # A screening question answered "no" only as a lie is still a disclosure.
    (
        "my therapist asked if i had thoughts of suicide and i lied and said no. i do daily",
        "general",
        SH,
        Severity.HIGH,
    ),
    # Last acts told as done or under way, found without the model.
    ("please dont look for me. this is the last time ill log on", "general", SH, Severity.IMMINENT),
    ("there's so much blood and it won't stop", "general", SH, Severity.IMMINENT),
    ("mum collapsed in the bathroom next to empty pill bottles", "general", OD, Severity.IMMINENT),
    ("he's throwing things at me right now", "general", AB, Severity.IMMINENT),
    ("dare you to jump lol", "general", EN, Severity.HIGH),
    # Asking a young person for a handle, a school or where they live; a handle given by
    # reference; a meet-up or a pick-up; a number in words (youth room: medium).
    ("whats ur snap? ill add u tonight", "youth", CS, Severity.MEDIUM),
    ("which school do you go to btw", "youth", CS, Severity.MEDIUM),
    ("mi insta es igual que mi user de aquí", "youth", CS, Severity.MEDIUM),
    ("tu peux me passer ton snap stp", "youth", CS, Severity.MEDIUM),
    ("mein insta ist mein name hier aber rückwärts", "youth", CS, Severity.MEDIUM),
    ("posso te buscar na saída da escola amanhã", "youth", CS, Severity.MEDIUM),
    ("saturday ko mall mein milte hain?", "youth", CS, Severity.MEDIUM),
    ("text me: nine one two, five five five, oh one four", "youth", CS, Severity.MEDIUM),
    # A public handle among adults: a privacy note to the writer, no moderator flag.
    ("drawing commissions open!! my insta is lunaboots.art", "general", CS, Severity.LOW),
]


@pytest.mark.parametrize(("text", "room", "cat", "severity"), LEXICON_FINDS)
def test_the_lexicons_find(
    lexicon_only: Detector, text: str, room: str, cat: str, severity: Severity
) -> None:
    v = lexicon_only.classify(text, room=room)
    assert cat in v.categories and v.severity == severity, v


# Their near twins, which must not be flagged for that category (None: not at all).
LEXICON_PASSES = [
    # Body signs without a substance; a break without one.
    ("my heart is racing before the exam, can't breathe, I hate presentations", OD),
    ("can't feel my legs after leg day lol", OD),
    ("no siento las piernas de tanto correr, mañana descanso", OD),
    ("le cœur qui bat à fond avant mon premier rendez-vous", OD),
    ("mein Herz rast, gleich ist die Prüfung", OD),
    ("took my meds as prescribed this morning, heart racing from the coffee though", OD),
    ("8 months clean today, dinner with my sober friends felt like old times", OD),
    ("6 meses limpo hoje, comprei um bolo pra mim", OD),
    ("out of rehab a year now and I run the Tuesday group on my own", OD),
    # Hiding, visiting, night visits by a little brother; a dare at the pool.
    ("locked myself in the bathroom at work to cry for five minutes, better now", None),
    ("my little brother keeps coming into my room at night because of the thunder", None),
    ("I know where he lives, I'm bringing him soup tonight, he has the flu", None),
    ('"spring doch endlich" rief meine Schwester, als ich ewig aufm 3-Meter-Brett stand', None),
    # Words talked about, therapy, support, office life.
    ('someone in my discord uses "kys" like a greeting, so weird', None),
    ('qué significa "kys"? lo vi en un stream', None),
    ("wrote letters to my future self in therapy today", None),
    (
        "my friend said she can't go on like this. we talked for hours and she's staying with me",
        None,
    ),
    ("kms this printer jammed again", None),
    ("last day at my job today, said goodbye to everyone. new chapter monday", None),
    # Abuse reported to the moderators, quoted without quotation marks once normalised.
    ("modos : le compte xyz envoie va te tuer aux plus jeunes, captures dispo", EN),
    ("@mods der user abc schreibt leuten bring dich doch um, bitte sperren", EN),
    ("mods, o perfil tal fica mandando se mata pras meninas, já denunciei", EN),
    # A year ago, said in each language's own way, with the present told as better.
    ("hoy hace un año que no tomo. hace un año quería morirme, hoy salgo a correr", SH),
    ("two years since my attempt today and i feel ok, cake with my mum", SH),
    # Preparations told as the distant past ("at 15 I wrote a note").
    ("at 15 i wrote a suicide note. at 24 i'm engaged and happy, it gets better", SH),
    # A screening question answered "no"; clean from self-harm for a while; news in Hindi.
    ("my counsellor asked if i'd had thoughts of suicide and i said no, first time in ages", SH),
    ("la psy m'a demandé si j'avais des idées suicidaires et j'ai dit non", SH),
    ("no thoughts of self harm this week, just tired", SH),
    ("400 days clean from self harm today", SH),
    ("अखबार में पढ़ा कि छात्रों में आत्महत्या के मामले बढ़े हैं", SH),
    # Talk about apps, and a request told as a report.
    ("snap is down again for everyone??", CS),
    ("my mum took my phone so im on the laptop today", CS),
    # A crisis line's number named in words is the line's, not the writer's.
    ("en México está la Línea de la Vida 800 911 2000, a mí me sirvió", CS),
    ("Centre de prévention du suicide: 0800 32 123, c'est gratuit", CS),
    ("o SNS 24 tem apoio psicológico, liguem 808 24 24 24", CS),
]


@pytest.mark.parametrize(("text", "cat"), LEXICON_PASSES)
def test_the_lexicons_pass(lexicon_only: Detector, text: str, cat: str | None) -> None:
    v = lexicon_only.classify(text)
    assert (cat not in v.categories) if cat else not v.is_risk, v


def test_recovery_talk_and_body_signs_alone_are_not_risk_seen(lexicon_only: Detector) -> None:
    # BREAK and OD_SIGN send a message to the rules but are no risk on their own: the
    # risk model keeps its higher bar for messages where the lexicon saw nothing.
    from moderation.classifier import NOTHING, SEEN

    assert lexicon_only.lexicon_verdict("4 months clean today, ran 5k")[1] == NOTHING
    assert lexicon_only.lexicon_verdict("my heart is racing before the exam")[1] == NOTHING
    assert lexicon_only.lexicon_verdict("the pills are in my drawer")[1] == SEEN


def test_identical_patterns_under_two_triggers_both_fire(tmp_path: Path) -> None:
    """One trie leaf holds both: the match must report each trigger, not the first."""
    lex = tmp_path / "lexicons"
    shutil.copytree(default_detector().lexicon_dir, lex)
    twins = "".join(
        f'\n[[trigger]]\nid = "en.twin_{kind}"\nkind = "{kind}"\ncategories = ["{cat}"]\n'
        f'severity = "high"\npatterns = [\'zorblax meetup at the quarry\']\n'
        for kind, cat in (("contact", CS), ("grooming", AB))
    )
    with (lex / "en.toml").open("a", encoding="utf-8") as fh:
        fh.write(twins)
    det = Detector(lexicon_dir=lex, model_path=None)
    v = det.classify("zorblax meetup at the quarry", room="youth")
    assert CS in v.categories and AB in v.categories, v
