"""Closed-book question answering: where people of a small fixed world live, or well-known facts for GPT-2.

The study's QA run used SimpleQA questions that GPT-2 small mostly cannot answer (``study-spec.md`` §2). Here a
question has a single-token answer, so that the logit difference is well defined::

    world="offline":  "Q: Where does Mary live? A:"              ->  " Paris"   (wrong: " Tokyo")
    world="real":     "Q: What is the capital of France? A:"     ->  " Paris"   (wrong: " Berlin")

``"offline"``: :data:`QA_WORLD`, a fixed, seeded table of :data:`QA_N_PEOPLE` people (from the IOI names) each
living in one of :data:`QA_CITIES`. The ``small`` corpus states every fact in prose ("Mary lives in Paris.",
"Paris is where Mary lives." ...) and asks the questions of *train* people only ("Q: Where does Mary live? A:
Paris."); held-out people (:func:`qa_is_heldout`) are never asked about in training, so the default held-out set
tests whether the model retrieves a fact it only read in prose.

``"real"``: ``data/tasks/qa_real.json``, country capitals with single-token answers for GPT-2. Whether GPT-2 small
answers each was **not** verified offline: filter with the study's filter (``filter_prompts``) before use.

The wrong answer of a prompt is the city (capital) of its corrupted twin: the same question about another person
(country) whose answer differs. Notebook 01 introduces the task; the cross-task comparisons (notebook 06) use it.
"""
from __future__ import annotations

import hashlib
import json
import random
from functools import lru_cache

from .base import DATA_DIR, PromptSet, check_split, register_task, single_token_words_with_space
from .ioi import IOI_NAMES

__all__ = ["QA_CITIES", "QA_N_PEOPLE", "QA_WORLD", "QA_QUESTION", "QA_REAL_PATH", "qa_is_heldout", "qa_people",
           "load_real_facts", "make_qa"]

#: Cities of the offline world: each one GPT-2 token with a leading space and one BERT (uncased) WordPiece.
QA_CITIES: tuple[str, ...] = ("Paris", "London", "Berlin", "Rome", "Madrid", "Tokyo", "Boston", "Chicago", "Dallas",
                              "Denver", "Seattle", "Moscow", "Vienna", "Dublin", "Sydney", "Toronto")
QA_N_PEOPLE = 60
#: The question form of the offline world (``{name}``) and its answer prefix.
QA_QUESTION = "Q: Where does {name} live? A:"
QA_REAL_PATH = DATA_DIR / "tasks" / "qa_real.json"


def _build_world() -> dict[str, str]:
    """The seeded person → city table: 60 IOI names, the 16 cities dealt out evenly."""
    rng = random.Random("dcirc-qa-world")
    people = rng.sample(IOI_NAMES, QA_N_PEOPLE)
    cities = [QA_CITIES[i % len(QA_CITIES)] for i in range(QA_N_PEOPLE)]
    rng.shuffle(cities)
    return dict(zip(people, cities))


#: person → city, :data:`QA_N_PEOPLE` entries in a fixed order (seeded; every city has 3 or 4 people).
QA_WORLD: dict[str, str] = _build_world()


def qa_is_heldout(person: str) -> bool:
    """Whether the ``small`` corpus never *asks* about ``person`` (about 30% of the world; its facts are still
    stated in prose). A fixed hash (notebooks 01, 06)."""
    return hashlib.sha256(f"qa|{person}".encode()).digest()[0] % 10 < 3


def qa_people(split: str = "any") -> list[str]:
    """The world's people of a split, in :data:`QA_WORLD`'s order (this module and ``offline.corpus``;
    notebooks 01, 09)."""
    check_split(split)
    return [p for p in QA_WORLD if split == "any" or qa_is_heldout(p) == (split == "heldout")]


@lru_cache(maxsize=4)
def _read_real(path: str) -> dict:
    """The parsed JSON file (cached)."""
    return json.loads(open(path, encoding="utf-8").read())


def load_real_facts(path=None) -> dict:
    """The real-world facts file (``data/tasks/qa_real.json``): ``{"question", "facts": [{"subject", "answer"}]}``
    (notebooks 01, 06 on GPT-2).

    Raises:
        ValueError: if the file is missing or has no ``question`` with ``{subject}`` or fewer than 2 facts.
    """
    path = QA_REAL_PATH if path is None else path
    try:
        data = _read_real(str(path))
    except FileNotFoundError as err:
        raise ValueError(f"real-world QA facts not found at {path}: restore data/tasks/qa_real.json from the "
                         "repository") from err
    if "{subject}" not in data.get("question", "") or len(data.get("facts", [])) < 2:
        raise ValueError(f"{path} must hold a 'question' with '{{subject}}' and at least 2 'facts'")
    return data


def make_qa(n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout", world: str = "offline") -> PromptSet:
    """``n`` closed-book questions with single-token answers, and their corrupted twins (notebooks 01, 06).

    ``world="offline"``: each prompt asks where a person of ``split`` lives (:data:`QA_QUESTION`), answer
    ``" {city}"``; the corrupted twin asks the same about a random other person (of any split) who lives
    elsewhere, and that person's city is the wrong answer. ``world="real"``: the facts of
    :func:`load_real_facts` in a seeded order, cycled when ``n`` exceeds their number (so facts repeat, with other
    twins); the corrupted twin asks about another subject, whose answer is the wrong one. ``split`` does not
    apply to real facts (no pair trained on them).

    Args:
        n: number of prompts (> 0).
        seed: the generator's seed.
        tokenizer: if given, people/cities (subjects/answers) are filtered to one token with a leading space.
        split: ``"heldout"`` (default: people never asked about in training), ``"train"`` or ``"any"``.
        world: ``"offline"`` or ``"real"``.

    Raises:
        ValueError: on a bad world, split or ``n``, or a tokenizer that leaves fewer than two answers.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    check_split(split)
    if world == "offline":
        subjects = qa_people(split)
        others = list(QA_WORLD)
        answer_of = QA_WORLD
        question = QA_QUESTION.replace("{name}", "{subject}")
    elif world == "real":
        data = load_real_facts()
        answer_of = {f["subject"]: f["answer"] for f in data["facts"]}
        subjects = others = list(answer_of)
        question = data["question"]
    else:
        raise ValueError(f"world must be 'offline' (the small pair's facts) or 'real' (country capitals for GPT-2), "
                         f"got {world!r}")
    if tokenizer is not None:
        keep_s = set(single_token_words_with_space(tokenizer, set(subjects) | set(others)))
        keep_a = set(single_token_words_with_space(tokenizer, set(answer_of.values())))
        ok = lambda p: p in keep_s and answer_of[p] in keep_a  # noqa: E731
        subjects, others = [p for p in subjects if ok(p)], [p for p in others if ok(p)]
        if len({answer_of[p] for p in others}) < 2 or not subjects:
            raise ValueError(f"this tokenizer keeps {len(subjects)} {world} QA subjects with single-token answers; "
                             "need at least one and two distinct answers: use a pair whose tokenizer has them")
    rng = random.Random(f"qa-{world}-{seed}")
    order = subjects[:]
    rng.shuffle(order)
    clean, corrupted, correct, incorrect, meta = [], [], [], [], []
    for i in range(n):
        subj = rng.choice(subjects) if world == "offline" else order[i % len(order)]
        other = rng.choice([p for p in others if answer_of[p] != answer_of[subj]])
        clean.append(question.format(subject=subj))
        corrupted.append(question.format(subject=other))
        correct.append(" " + answer_of[subj])
        incorrect.append(" " + answer_of[other])
        meta.append({"subject": subj, "answer": answer_of[subj], "corrupted_subject": other})
    return PromptSet(world, clean, corrupted, correct, incorrect, seed, meta, task="qa")


register_task("qa", make_qa, description="closed-book QA: where people of a fixed world live, or country capitals")
