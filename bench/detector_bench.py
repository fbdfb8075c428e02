"""Throughput and latency of the crisis detector on one core.

Builds a realistic mix of ~200-character chat messages (about 92% benign small talk,
support and idioms, 8% risk in several languages and coded forms) and reports
messages/s plus p50/p99 per-message latency in microseconds.

`--corpus varied` joins real messages from the labelled sets instead (ordinary chat
from tests/moderation/benign_*.jsonl, 8% risky rows from the other sets): a few thousand
different sentences rather than a few dozen, so caches and lazily built automata are
not flattered by repetition.

`--lexicons-only` runs the lexicons without the risk model (what each reader costs).

Usage: python bench/detector_bench.py [--messages N] [--seed S] [--corpus synthetic|varied]
       [--lexicons-only]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from moderation.detector import Detector
from moderation.evaluate import load_rows

DATA = Path(__file__).resolve().parent.parent / "tests" / "moderation"

BENIGN = [
    "honestly today was better than yesterday, went for a walk with my dog and called my sister",
    "does anyone have tips for sleeping after night shifts? melatonin does nothing for me anymore",
    "my therapist suggested journaling and I was skeptical but it is actually helping a bit",
    "this exam is killing me lol, three more chapters and then I can finally sleep",
    "we killed it at the open mic last night, I was so nervous but everyone was kind",
    "day 90 clean today. not easy but the meetings and this group keep me going, thank you all",
    "anyone else get flashbacks when they hear fireworks? new year is always rough for me",
    "kill the heat once the sauce thickens, then stir in the butter and lemon",
    "I finally beat the final boss after like twenty tries, my hands are still shaking haha",
    "if you are thinking about suicide please call or text 988, they really helped me once",
    "mi terapeuta dice que tengo que poner límites con mi familia, alguien tiene experiencia?",
    "hoje consegui sair de casa e ir ao mercado sozinha, pequeno passo mas fiquei feliz",
    "je suis mort de rire devant cette vidéo, merci pour le partage ça m'a fait du bien",
    "heute war ein guter Tag, ich war mit meiner Freundin spazieren und wir haben Eis gegessen",
    "aaj ka din thoda behtar tha yaar, dost ke saath chai pi aur bahut baatein ki",
    "आज मैंने योग किया और थोड़ा हल्का महसूस हुआ, सबको धन्यवाद इस ग्रुप के लिए",
    "@sam thanks for checking in earlier, it meant a lot. coming out to my parents next week",
    "my feet are killing me after that double shift, but the paycheck will help with rent",
]
RISK = [
    "I can't do this anymore, I've been thinking about killing myself every night this week",
    "took all my pills an hour ago, just wanted to say thank you to everyone here",
    "honestly I wish I could go to sleep and not wake up, everything is so heavy right now",
    "tonight is the night, I've written my letters. goodbye everyone",
    "k1ll mys3lf is all i think about lately, nobody would even notice",
    "you're pathetic, do everyone a favour and kys",
    "add me on snap its lily_2009 we can talk there without mods",
    "ya no quiero vivir, estoy cansada de todo y de todos",
    "ich will nicht mehr leben, alles ist so sinnlos geworden",
    "mujhe marna hai yaar, ab aur nahi hota",
    "gonna take all these 💊 tonight",
    "my stepdad hits me when he's drunk and I'm scared to go home",
]


def _joined(n: int, seed: int, benign: Sequence[str], risky: Sequence[str]) -> list[str]:
    """n messages of roughly 200 characters: one sentence (risky 8% of the time) padded
    with benign ones, shuffled."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        parts = [rng.choice(risky if rng.random() < 0.08 else benign)]
        while sum(len(p) for p in parts) < 170:
            parts.append(rng.choice(benign))
        rng.shuffle(parts)
        out.append(" ".join(parts)[:240])
    return out


def make_corpus(n: int, seed: int) -> list[str]:
    """Messages padded to roughly 200 characters by joining sentences."""
    return _joined(n, seed, BENIGN, RISK)


def make_varied_corpus(n: int, seed: int, data: Path = DATA) -> list[str]:
    """Messages of roughly 200 characters joined from the labelled sets' real texts."""
    benign: list[str] = []
    risky: list[str] = []
    for f in sorted(data.glob("*.jsonl")):
        for row in load_rows(f):
            if f.name.startswith("benign_"):
                benign.append(row["text"])
            elif row["labels"]:
                risky.append(row["text"])
    if not benign or not risky:
        raise SystemExit(f"no labelled messages under {data}")
    return _joined(n, seed, benign, risky)


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--corpus", choices=("synthetic", "varied"), default="synthetic")
    ap.add_argument("--lexicons-only", action="store_true")
    args = ap.parse_args()
    det = Detector(model_path=None) if args.lexicons_only else Detector()
    make = make_corpus if args.corpus == "synthetic" else make_varied_corpus
    corpus = make(args.messages, args.seed)
    for text in corpus[:2000]:  # warm caches (translate table, regex internals)
        det.classify(text)
    classify = det.classify
    # CPU time of this thread is what "one core" means; wall time is also printed
    # because shared CI machines steal cycles.
    w0, c0 = time.perf_counter(), time.thread_time()
    for text in corpus:
        classify(text)
    wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
    clock = time.thread_time_ns
    lat: list[float] = []
    for text in corpus:
        a = clock()
        classify(text)
        lat.append((clock() - a) / 1000)
    lat.sort()
    avg_len = statistics.mean(len(t) for t in corpus)
    flagged = sum(classify(t).is_risk for t in corpus)
    print(f"messages: {len(corpus)} (avg {avg_len:.0f} chars, {flagged} flagged as risk)")
    print(f"throughput: {len(corpus) / cpu:,.0f} messages/s per CPU-second on one core")
    print(f"            {len(corpus) / wall:,.0f} messages/s wall clock (includes other load)")
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    print(f"latency (CPU) p50: {p50:.1f} us   p99: {p99:.1f} us")


if __name__ == "__main__":
    main()
