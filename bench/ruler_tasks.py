"""RULER-style long-context tasks generated offline from real text, and their scoring.

Each task builds a prompt of about ``length`` tokens (measured with the model's tokenizer) from a
haystack of real text shipped with CPython and Debian (the standard library's sources, its pydoc
topics, /usr/share/common-licenses), with the facts to retrieve inserted at seeded positions.
A sample is ``{"task", "length", "seed", "context", "question", "answer_prefix", "answers",
"match"}``; ``score(sample, output)`` is the share of ``answers`` found in the model's output
(``match == "all"``) or 1 if any is (``"any"``), case-insensitive, as RULER scores.

Tasks (after RULER): niah_single, niah_multikey (one needle among distractor needles),
niah_multivalue (all values of one key), niah_multiquery (values of several keys),
vt (variable tracking through chains of assignments), cwe (common-word extraction),
fwe (frequent-word extraction in coded text), qa (a question over one of many passages).
"""
from __future__ import annotations

import math
import random
import re
import sysconfig
from pathlib import Path
from typing import Callable, Dict, List

TASKS = ["niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe",
         "qa"]

_CODE_FILES = ["argparse.py", "typing.py", "inspect.py", "dataclasses.py", "functools.py",
               "subprocess.py", "tarfile.py", "zipfile.py", "pathlib.py", "logging/__init__.py"]


def haystack_prose() -> str:
    """English prose: CPython's pydoc topics and Debian's license texts."""
    from pydoc_data.topics import topics
    parts = [topics[k] for k in sorted(topics)]
    lic = Path("/usr/share/common-licenses")
    if lic.is_dir():
        parts += [p.read_text(errors="replace") for p in sorted(lic.iterdir()) if p.is_file()]
    return "\n\n".join(parts)


def haystack_code() -> str:
    std = Path(sysconfig.get_paths()["stdlib"])
    return "\n\n".join((std / n).read_text(encoding="utf-8") for n in _CODE_FILES if (std / n).exists())


def vocabulary(text: str) -> List[str]:
    """Distinct lowercase alphabetic words of 4-10 letters, in order of first appearance."""
    seen: Dict[str, None] = {}
    for w in re.findall(r"\b[a-z]{4,10}\b", text):
        seen.setdefault(w, None)
    return list(seen)


def _number(rng: random.Random) -> str:
    return str(rng.randint(1_000_000, 9_999_999))


def _insert(filler: str, pieces: List[str], rng: random.Random) -> str:
    """Inserts each piece at a random line boundary of filler (in order of position)."""
    cuts = sorted(rng.random() for _ in pieces)
    out, last = [], 0
    for cut, piece in zip(cuts, pieces):
        pos = int(cut * len(filler))
        nl = filler.find("\n", pos)
        pos = nl + 1 if nl != -1 and nl - pos < 400 else pos
        pos = max(pos, last)
        out.append(filler[last:pos])
        out.append("\n" + piece + "\n")
        last = pos
    out.append(filler[last:])
    return "".join(out)


# ---------------------------------------------------------------- the tasks: (context builder,
# question, answer prefix, answers) for a filler of n characters.
def _niah(rng, words, n_keys, n_values, n_queries):
    keys = rng.sample(words, n_keys)
    needles, truth = [], {}
    for k in keys:
        for _ in range(n_values):
            v = _number(rng)
            truth.setdefault(k, []).append(v)
            needles.append("One of the special magic numbers for %s is: %s." % (k, v))
    rng.shuffle(needles)
    asked = keys[:n_queries]
    if n_queries == 1:
        q = "What are all the special magic numbers for %s mentioned in the provided text?" % asked[0]
        prefix = "The special magic numbers for %s mentioned in the provided text are" % asked[0]
    else:
        q = ("What are all the special magic numbers for %s mentioned in the provided text?"
             % (", ".join(asked[:-1]) + " and " + asked[-1]))
        prefix = ("The special magic numbers for %s mentioned in the provided text are"
                  % (", ".join(asked[:-1]) + " and " + asked[-1]))
    answers = [v for k in asked for v in truth[k]]
    return needles, q, prefix, answers


def _vt(rng, words):
    """Chains VAR A = 12345, VAR B = VAR A, ...; the question asks for every name of one value."""
    names = ["".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(5)) for _ in range(15)]
    chains = []
    for c in range(3):
        vals = _number(rng)[:5]
        chain = names[c * 5:(c + 1) * 5]
        lines = ["VAR %s = %s" % (chain[0], vals)]
        lines += ["VAR %s = VAR %s" % (chain[i], chain[i - 1]) for i in range(1, 5)]
        chains.append((vals, chain, lines))
    value, answers, _ = chains[0]
    needles = [line for _, _, lines in chains for line in lines]   # 5 lines a chain, in order
    q = ("Find all variables that are assigned the value %s in the text above." % value)
    prefix = ("Answer: According to the chain(s) of variable assignment in the text above, %d "
              "variables are assigned the value %s, they are:" % (len(answers), value))
    return needles, q, prefix, answers


def _cwe(rng, words, n_tokens_hint):
    """A numbered word list: 10 words 30 times each among rarer words; name the 10 most common."""
    common = rng.sample(words, 10)
    rest = [w for w in words if w not in common]
    n_rare = max(20, n_tokens_hint // 12)
    rare = rng.sample(rest, min(len(rest), n_rare))
    items = common * 30 + rare * 3
    rng.shuffle(items)
    context = " ".join("%d. %s" % (i + 1, w) for i, w in enumerate(items))
    q = ("Above is a numbered list of words. What are the 10 most common words in the list?")
    prefix = "Answer: The top 10 words that appear most often in the list are:"
    return context, q, prefix, common


def _fwe(rng, n_tokens_hint):
    """Coded text with Zipf word frequencies: name the three most frequent coded words."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(5)) for _ in range(200)]
    weights = [1 / (r + 1) ** 2.0 for r in range(len(vocab))]
    n_words = max(100, int(n_tokens_hint / 2.2))
    text = rng.choices(vocab, weights=weights, k=n_words)
    counts = {w: text.count(w) for w in vocab[:6]}
    top = sorted(counts, key=lambda w: -counts[w])[:3]
    context = " ".join(text)
    q = ("Read the coded text above. What are the three most frequently appearing coded words in it? "
         "Do not give any explanation.")
    prefix = "Answer: According to the coded text above, the three most frequently appearing words are:"
    return context, q, prefix, top


_PLACES = ["attic", "cellar", "library", "garage", "greenhouse", "lighthouse", "observatory",
           "boathouse", "chapel", "workshop", "vineyard", "granary", "harbour office", "bakery"]
_OBJECTS = ["violin", "telescope", "compass", "ledger", "lantern", "chessboard", "typewriter",
            "sextant", "kettle", "hourglass"]
_PEOPLE = ["Ada Okafor", "Bruno Lindqvist", "Chiara Mendes", "Dmitri Sato", "Elena Varga",
           "Farid Haddad", "Greta Nilsen", "Hugo Marchetti", "Ines Duarte", "Jonas Weber"]


def _qa(rng):
    people = rng.sample(_PEOPLE, 5)
    objects = rng.sample(_OBJECTS, 5)
    places = rng.sample(_PLACES, 5)
    facts = ["The %s of %s is kept in the %s." % (o, p, pl) for p, o, pl in zip(people, objects, places)]
    q = "Where is the %s of %s kept? Answer with the place only." % (objects[0], people[0])
    prefix = "Answer: The %s of %s is kept in the" % (objects[0], people[0])
    return facts, q, prefix, [places[0]]


def make_sample(task: str, length: int, seed: int, prose: str, code: str, words: List[str],
                count_tokens: Callable[[str], int]) -> dict:
    """One prompt of about `length` tokens (the chat template and question are added by the runner;
    `count_tokens` of the whole user message is kept at or below `length` minus a margin)."""
    rng = random.Random("%s/%d/%d" % (task, length, seed))
    margin = 96                                    # chat template, answer prefix, generation
    match = "all"
    if task in ("cwe", "fwe"):
        hint = length - margin
        while True:
            context, q, prefix, answers = (_cwe(random.Random(rng.random()), words, hint) if task == "cwe"
                                           else _fwe(random.Random(rng.random()), hint))
            n = count_tokens(context + "\n\n" + q)
            if n <= length - margin or hint < 64:
                break
            hint = int(hint * (length - margin) / n * 0.97)
        return dict(task=task, length=length, seed=seed, context=context, question=q,
                    answer_prefix=prefix, answers=answers, match=match)
    if task == "niah_single":
        pieces, q, prefix, answers = _niah(rng, words, 1, 1, 1)
    elif task == "niah_multikey":
        pieces, q, prefix, answers = _niah(rng, words, 4, 1, 1)
    elif task == "niah_multivalue":
        pieces, q, prefix, answers = _niah(rng, words, 1, 4, 1)
    elif task == "niah_multiquery":
        pieces, q, prefix, answers = _niah(rng, words, 4, 1, 4)
    elif task == "vt":
        pieces, q, prefix, answers = _vt(rng, words)
    elif task == "qa":
        pieces, q, prefix, answers = _qa(rng)
        match = "any"
    else:
        raise ValueError("unknown task %r" % task)
    source = code if task == "vt" else prose
    start = rng.randrange(0, max(1, len(source) // 2))
    # characters per token of this text, then a few corrections to land just under the budget
    n_chars = int((length - margin) * 3.5)
    for _ in range(6):
        filler = (source[start:] + "\n\n" + source)[:n_chars]
        context = _insert(filler, pieces, random.Random(seed)) if task != "vt" else _insert_chain(filler, pieces, rng)
        n = count_tokens(context + "\n\n" + q)
        if length - margin - 48 <= n <= length - margin:
            break
        n_chars = int(n_chars * (length - margin - 24) / n)
    return dict(task=task, length=length, seed=seed, context=context, question=q,
                answer_prefix=prefix, answers=answers, match=match)


def _insert_chain(filler: str, lines: List[str], rng: random.Random) -> str:
    """Inserts assignment lines at random places keeping each chain's order (5 lines a chain)."""
    chains = [lines[i:i + 5] for i in range(0, len(lines), 5)]
    slots = sorted(rng.random() for _ in lines)
    order = []   # which chain each slot takes next, keeping within-chain order
    pending = [list(c) for c in chains]
    for _ in slots:
        live = [i for i, c in enumerate(pending) if c]
        order.append(pending[rng.choice(live)].pop(0))
    return _insert(filler, order, random.Random(rng.random()))


def score(sample: dict, output: str) -> float:
    out = output.lower()
    found = [a.lower() in out for a in sample["answers"]]
    if sample["match"] == "any":
        return 1.0 if any(found) else 0.0
    return sum(found) / len(found)


def wilson(successes: int, n: int, z: float = 1.96):
    """95% Wilson score interval of a binomial proportion, in percent."""
    if n == 0:
        return (0.0, 100.0)
    p = successes / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (100 * max(0.0, c - h), 100 * min(1.0, c + h))
