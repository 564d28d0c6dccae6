"""What every task shares: the :class:`PromptSet`, token helpers, the study's filter, JSON I/O and the task registry.

A *task* is a function ``make(n, seed, tokenizer, split, **kw) -> PromptSet`` registered in :data:`TASKS`;
:func:`make_task` calls it by name (``"numerals"``, ``"number_words"``, ``"ioi"``, ``"qa"``, ``"greater_than"``).
Every task draws its default prompts from a *held-out* split: combinations that the offline pairs' training corpus
(``dcirc_utils.offline.corpus``) never contains in that task's form. Used by every notebook.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..metrics import LogitDiff, Metric
from ..paths import DATA_DIR

__all__ = [
    "DATA_DIR", "SPLITS", "PromptSet", "TaskSpec", "TASKS", "register_task", "make_task", "single_token_words",
    "single_token_words_with_space", "answer_token_ids", "filter_prompts", "save_prompt_set", "load_prompt_set",
    "token_strings", "check_split",
]

#: The splits every task accepts: held-out combinations (default), training ones, or all.
SPLITS: tuple[str, ...] = ("heldout", "train", "any")


def check_split(split: str) -> str:
    """``split`` checked to be one of :data:`SPLITS` (every task's generator; notebooks 01-06).

    Raises:
        ValueError: naming the accepted values.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'heldout', 'train' or 'any', got {split!r}")
    return split


def _encode(tokenizer, text: str) -> list[int]:
    """``tokenizer.encode(text)`` without special tokens, as a list."""
    return list(tokenizer.encode(text, add_special_tokens=False))


def single_token_words(tokenizer, words: Iterable[str]) -> list[str]:
    """The words that ``tokenizer`` encodes as one token both as ``"w"`` and as ``" w"`` (notebooks 01, 02).

    Args:
        tokenizer: a Hugging Face tokenizer.
        words: candidate words, kept in their order.
    """
    keep = []
    for w in words:
        if len(_encode(tokenizer, w)) == 1 and len(_encode(tokenizer, " " + w)) == 1:
            keep.append(w)
    return keep


def single_token_words_with_space(tokenizer, words: Iterable[str]) -> list[str]:
    """The words that ``tokenizer`` encodes as one known token as ``" w"`` (IOI names, QA cities; notebooks 01, 07).

    Args:
        tokenizer: a Hugging Face tokenizer.
        words: candidate words, kept in their order.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    keep = []
    for w in words:
        ids = _encode(tokenizer, " " + w)
        if len(ids) == 1 and ids[0] != unk:
            keep.append(w)
    return keep


def answer_token_ids(tokenizer, answers: Sequence[str]) -> Int[Tensor, "batch"]:
    """One token id per answer string (every notebook, through :meth:`PromptSet.answer_ids`).

    Args:
        tokenizer: a Hugging Face tokenizer.
        answers: answer strings, e.g. ``" 5"``.

    Raises:
        ValueError: naming the first answer that is not a single (known) token for ``tokenizer``, and saying so
            when the tokenizer splits the answer's leading space off (Llama-3's before every number).
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    out = []
    for a in answers:
        ids = _encode(tokenizer, a)
        if len(ids) > 1 and a[:1].isspace() and not tokenizer.decode(ids[:1]).strip():
            raise ValueError(f"answer {a!r} is {len(ids)} tokens {ids} for this tokenizer, not one: it splits the "
                             "leading space off into a token of its own (as Llama-3's tokenizer does before every "
                             "number: ' 5' -> ' ' + '5'), so the answer is not one token and its logit difference "
                             "cannot be read. Fix: use a pair whose tokenizer keeps ' 5' whole (GPT-2's; the "
                             "llama-random dry run uses it), or a prompt form that ends with the space and asks for "
                             "the bare token (not built yet: docs/pairs.md, 'The Llama pairs').")
        if len(ids) != 1:
            raise ValueError(f"answer {a!r} is {len(ids)} tokens {ids} for this tokenizer, not one: the logit "
                             "difference needs single-token answers. Choose elements whose successor is one token "
                             "(e.g. smaller numbers) or a tokenizer that has them.")
        if unk is not None and ids[0] == unk:
            raise ValueError(f"answer {a!r} is the unknown token for this tokenizer: it is not in the vocabulary. "
                             "Use a pair whose tokenizer knows this task's words (the 'small' pair knows every task).")
        out.append(ids[0])
    return torch.tensor(out, dtype=torch.long)


@dataclass
class PromptSet:
    """A task's clean and corrupted prompts with their answers (plain data; saved under ``data/`` as JSON).

    Every notebook takes one; :func:`make_task` (or the task's own generator) makes it.

    Attributes:
        variant: the task's variant (numerals: one of ``numerals.ALL_VARIANTS``; IOI: ``"template_<k>"``; QA: the
            world, ``"offline"`` or ``"real"``; greater-than: ``"greater_than"``).
        clean: the prompts, each ending just before the answer.
        corrupted: the corrupted twin of each prompt, aligned token for token (the task says how it is made).
        correct: the correct next token as text, e.g. ``" 5"`` (greater-than: the smallest right year, ``"33"``).
        incorrect: the distractor as text, e.g. ``" 4"`` (greater-than: the start year's two digits, ``"32"``).
        seed: the generator's seed.
        meta: per-prompt details (numerals: verb, start, length, words; other tasks: their slots).
        task: the registered task that made the set (a key of :data:`TASKS`); ``"numerals"`` for files written
            before there were other tasks.
    """

    variant: str
    clean: list[str]
    corrupted: list[str]
    correct: list[str]
    incorrect: list[str]
    seed: int
    meta: list[dict] = field(default_factory=list)
    task: str = "numerals"

    def __len__(self) -> int:
        """Number of prompts."""
        return len(self.clean)

    @property
    def family(self) -> str:
        """The model family the prompts are written for: ``"decoder"`` or ``"encoder"`` (masked prompts)."""
        spec = TASKS.get(self.task)
        return spec.family if spec is not None else "decoder"

    def check_family(self, family: str) -> None:
        """Raise ``ValueError`` unless the prompts suit models of ``family`` (the engine and ``evaluate_task`` call it).

        Raises:
            ValueError: naming the task that fits the model.
        """
        if family == self.family:
            return
        fix = ("the masked form of the task (make_task('numerals_masked') or make_task('ioi_masked'))"
               if family == "encoder" else "a decoder task (make_task('numerals'), 'ioi', 'qa' or 'greater_than')")
        raise ValueError(f"the {self.task!r} prompts are written for {self.family} models, but this model is of the "
                         f"{family} family: use {fix}")

    def subset(self, idx: Sequence[int]) -> "PromptSet":
        """The prompts at positions ``idx``, in that order (notebooks 02-06, after the study's filter).

        Args:
            idx: positions into the set (repeats allowed).
        """
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return PromptSet(self.variant, pick(self.clean), pick(self.corrupted), pick(self.correct),
                         pick(self.incorrect), self.seed, pick(self.meta) if self.meta else [], self.task)

    def tokens(self, tokenizer, which: str = "clean", bos: bool = False) -> Int[Tensor, "batch pos"]:
        """Token ids of the clean (or corrupted) prompts, stacked (every notebook, through the engine).

        All prompts of a set tokenize to the same length, so that they stack into one batch and every answer
        position is the last one.

        Args:
            tokenizer: a Hugging Face tokenizer; no special tokens are added by ``encode``.
            which: ``"clean"`` or ``"corrupted"``.
            bos: prepend ``tokenizer.bos_token_id`` to every prompt (the study's attention patterns used one).

        Raises:
            ValueError: for another ``which``; if ``bos`` is asked of a tokenizer that has no BOS token; if the
                prompts do not all tokenize to the same length (a word was not a single token).
        """
        if which not in ("clean", "corrupted"):
            raise ValueError(f"which must be 'clean' or 'corrupted', got {which!r}")
        texts = self.clean if which == "clean" else self.corrupted
        ids = [_encode(tokenizer, t) for t in texts]
        lengths = {len(x) for x in ids}
        if len(lengths) != 1:
            bad = [t for t, x in zip(texts, ids) if len(x) != len(ids[0])][:2]
            raise ValueError(f"prompts of the {self.variant!r} set tokenize to different lengths {sorted(lengths)}, "
                             f"e.g. {bad}: a word or number is not a single token for this tokenizer. Regenerate "
                             "the set with make_prompts(tokenizer=...) (or make_task(..., tokenizer=...)) so that "
                             "its word lists are filtered.")
        if bos:
            b = getattr(tokenizer, "bos_token_id", None)
            if b is None:
                raise ValueError("bos=True but this tokenizer has no BOS token (tokenizer.bos_token_id is None); "
                                 "call tokens(..., bos=False) or set tokenizer.bos_token first")
            ids = [[b] + x for x in ids]
        return torch.tensor(ids, dtype=torch.long)

    def answer_ids(self, tokenizer) -> tuple[Int[Tensor, "batch"], Int[Tensor, "batch"]]:
        """Token ids of the correct and the incorrect answers, for logit-difference tasks (every notebook).

        Raises:
            ValueError: for a task whose metric is not a logit difference (greater-than: use :meth:`metric`), or
                an answer that is not a single token.
        """
        spec = TASKS.get(self.task)
        if spec is not None and spec.metric is not None:
            raise ValueError(f"the {self.task!r} task is scored by {spec.metric_name}, not by a logit difference "
                             "between two answers: use PromptSet.metric(tokenizer)")
        return (answer_token_ids(tokenizer, self.correct), answer_token_ids(tokenizer, self.incorrect))

    def metric(self, tokenizer, d_vocab: int | None = None) -> Metric:
        """The task's metric object for the engine (every notebook): a :class:`~dcirc_utils.core.metrics.LogitDiff`
        of :meth:`answer_ids`, or the task's own (greater-than: a :class:`~dcirc_utils.core.metrics.ProbDiff`).

        Args:
            tokenizer: the pair's tokenizer.
            d_vocab: width of the model's logits when it differs from ``len(tokenizer)`` (whole-vocabulary
                metrics only).
        """
        spec = TASKS.get(self.task)
        if spec is not None and spec.metric is not None:
            return spec.metric(self, tokenizer, d_vocab)
        return LogitDiff(*self.answer_ids(tokenizer))


# --------------------------------------------------------------------------------------------- task registry
@dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    Attributes:
        name: the key in :data:`TASKS`.
        make: ``make(n, seed, tokenizer, split, **kw) -> PromptSet``.
        metric: ``metric(prompt_set, tokenizer, d_vocab) -> Metric`` for tasks not scored by the logit
            difference of :meth:`PromptSet.answer_ids`; ``None`` otherwise.
        metric_name: how tables name the metric.
        description: one line for listings.
        family: the models the prompts are written for: ``"decoder"`` (a prompt ends before its answer) or
            ``"encoder"`` (the answer position is a ``[MASK]``).
    """

    name: str
    make: Callable[..., PromptSet]
    metric: Callable[..., Metric] | None = None
    metric_name: str = "Δl"
    description: str = ""
    family: str = "decoder"


#: Every task by name; filled by the task modules when ``dcirc_utils.core.tasks`` is imported.
TASKS: dict[str, TaskSpec] = {}


def register_task(name: str, make: Callable[..., PromptSet], metric: Callable[..., Metric] | None = None,
                  metric_name: str = "Δl", description: str = "", family: str = "decoder") -> TaskSpec:
    """Add a task to :data:`TASKS` (the task modules of this package; a notebook may add its own).

    Args:
        name: the task's key.
        make: ``make(n, seed, tokenizer, split, **kw) -> PromptSet``.
        metric: ``metric(prompt_set, tokenizer, d_vocab) -> Metric`` unless the task is scored by the logit
            difference of its two answers.
        metric_name: how tables name the metric.
        description: one line for listings.
        family: ``"decoder"`` (default) or ``"encoder"`` (masked prompts).

    Raises:
        ValueError: if ``name`` is already registered or ``family`` is another value.
    """
    if name in TASKS:
        raise ValueError(f"task {name!r} is already registered; pick another name")
    if family not in ("decoder", "encoder"):
        raise ValueError(f"family must be 'decoder' or 'encoder', got {family!r}")
    TASKS[name] = TaskSpec(name, make, metric, metric_name, description, family)
    return TASKS[name]


def make_task(task: str, n: int = 100, seed: int = 0, tokenizer=None, split: str = "heldout", **kw) -> PromptSet:
    """``n`` prompts of a registered task (every notebook; ``python -m dcirc_utils.offline.distill`` evaluates them).

    With a tokenizer, the set is checked for it: every clean and corrupted prompt tokenizes to the same length
    without unknown tokens, and every answer is one token (logit-difference tasks).

    Args:
        task: a key of :data:`TASKS`: ``"numerals"`` (with ``variant=``, ``length=``), ``"number_words"``,
            ``"ioi"`` (``template=``), ``"qa"`` (``world=``) or ``"greater_than"``.
        n: number of prompts (> 0).
        seed: the generator's seed.
        tokenizer: a tokenizer to filter word lists for and check the set against.
        split: ``"heldout"`` (default), ``"train"`` or ``"any"`` (see each task).
        **kw: the task's own options.

    Raises:
        ValueError: for an unknown task, a bad option, or a set that does not fit the tokenizer.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    check_split(split)
    ps = TASKS[task].make(n=n, seed=seed, tokenizer=tokenizer, split=split, **kw)
    if tokenizer is not None:
        check_prompt_set(ps, tokenizer)
    return ps


def check_prompt_set(ps: PromptSet, tokenizer) -> None:
    """Check a set against a tokenizer (:func:`make_task`; notebooks that load sets from JSON).

    Raises:
        ValueError: if clean and corrupted prompts do not all tokenize to one length, if a prompt contains the
            unknown token, or if an answer is not one token (logit-difference tasks).
    """
    clean, corrupted = ps.tokens(tokenizer), ps.tokens(tokenizer, "corrupted")
    if clean.shape != corrupted.shape:
        raise ValueError(f"clean prompts are {clean.shape[1]} tokens but corrupted ones {corrupted.shape[1]}: the "
                         "twins must align token for token; regenerate the set with this tokenizer")
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None:
        for which, toks, texts in (("clean", clean, ps.clean), ("corrupted", corrupted, ps.corrupted)):
            rows = (toks == unk).any(-1).nonzero().flatten().tolist()
            if rows:
                raise ValueError(f"{which} prompt {texts[rows[0]]!r} contains a word this tokenizer does not know "
                                 "(unknown token): use a pair whose tokenizer covers the task (the 'small' pair)")
    ps.metric(tokenizer)  # answers are single tokens (or the task's metric can be built)


# --------------------------------------------------------------------------------------------- filter and I/O
def filter_prompts(prompts: PromptSet, logits_end: Float[Tensor, "batch d_vocab"], correct_ids: Int[Tensor, "batch"],
                   incorrect_ids: Int[Tensor, "batch"], ratio: float = 2.0) -> tuple[PromptSet, dict]:
    """The study's filter: keep a prompt only if its top-1 is correct and p(correct) > ratio · p(incorrect).

    Used by notebooks 02-06 before scoring circuits.

    Args:
        prompts: the set the logits belong to.
        logits_end: final-position logits of one model.
        correct_ids, incorrect_ids: answer token ids.
        ratio: the probability ratio (the study used 2).

    Returns:
        ``(kept PromptSet, report dict)`` where the report gives how many were kept and dropped.
    """
    probs = logits_end.float().softmax(-1)
    idx = torch.arange(len(prompts))
    p_c, p_i = probs[idx, correct_ids], probs[idx, incorrect_ids]
    keep = (logits_end.argmax(-1) == correct_ids) & (p_c > ratio * p_i)
    kept = [int(i) for i in torch.nonzero(keep).flatten()]
    return prompts.subset(kept), {"kept": len(kept), "dropped": len(prompts) - len(kept), "total": len(prompts)}


def save_prompt_set(ps: PromptSet, path: str | Path) -> Path:
    """Write a prompt set as readable JSON (``data/prompts``, ``data/tasks``; notebook 01).

    The ``task`` field is written only when it is not ``"numerals"``, so numeral sets keep the exact bytes of the
    files written before there were other tasks (and :func:`load_prompt_set` reads both).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(ps)
    if data["task"] == "numerals":
        del data["task"]
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


# The keys of a prompt-set file (:func:`save_prompt_set`): required, then optional.
_REQUIRED_KEYS: tuple[str, ...] = ("variant", "clean", "corrupted", "correct", "incorrect", "seed")
_OPTIONAL_KEYS: tuple[str, ...] = ("meta", "task")
_PROMPT_FILE_FIX = ("Fix: restore the shipped sets with `python -m dcirc_utils.core.tasks` (or `git checkout "
                    "data/prompts data/tasks`), or write your own with save_prompt_set(ps, path).")


def _check_prompt_data(data, path: Path) -> None:
    """Raise ``ValueError`` (naming ``path``) unless ``data`` is a prompt set: an object with the keys of
    ``_REQUIRED_KEYS`` (and perhaps ``_OPTIONAL_KEYS``) whose parallel lists have one length."""
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not a prompt set (an object with the keys "
                         f"{_REQUIRED_KEYS}). {_PROMPT_FILE_FIX}")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    unknown = [k for k in data if k not in _REQUIRED_KEYS + _OPTIONAL_KEYS]
    if missing or unknown:
        what = "; ".join(f"{label} {keys}" for label, keys in (("it lacks the keys", missing),
                                                                ("it has unknown keys", unknown)) if keys)
        raise ValueError(f"{path} is not a prompt set: {what}. A prompt set file holds {_REQUIRED_KEYS} and "
                         f"optionally {_OPTIONAL_KEYS}. {_PROMPT_FILE_FIX}")
    lists = ["clean", "corrupted", "correct", "incorrect"]
    bad = [k for k in lists if not isinstance(data[k], list) or not all(isinstance(x, str) for x in data[k])]
    if not isinstance(data.get("meta", []), list):
        bad.append("meta")
    if bad:
        raise ValueError(f"{path}: {bad} must be lists (of strings, one per prompt; 'meta' of one dict per "
                         f"prompt). {_PROMPT_FILE_FIX}")
    if data.get("meta"):
        lists.append("meta")
    lengths = {k: len(data[k]) for k in lists}
    if len(set(lengths.values())) != 1:
        shown = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise ValueError(f"{path}: its parallel lists differ in length ({shown}): every prompt needs its corrupted "
                         f"twin and both answers (and its meta entry). {_PROMPT_FILE_FIX}")


def load_prompt_set(path: str | Path, tokenizer=None) -> PromptSet:
    """Read a prompt set written by :func:`save_prompt_set` (old files without ``task`` load as numerals;
    notebook 01), checked on the way in: its keys, its parallel lists of one length, and, with ``tokenizer``,
    :func:`check_prompt_set` (aligned twins, no unknown words, single-token answers).

    Raises:
        ValueError: naming the file and what is wrong with it.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}). {_PROMPT_FILE_FIX}") from None
    _check_prompt_data(data, path)
    ps = PromptSet(**data)
    if tokenizer is not None:
        try:
            check_prompt_set(ps, tokenizer)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    return ps


def token_strings(tokenizer, text: str) -> list[str]:
    """How ``tokenizer`` splits ``text``, one string per token (notebook 01 shows it)."""
    return [tokenizer.decode([i]) for i in _encode(tokenizer, text)]


def end_values(metric: Metric, logits_end: Float[Tensor, "batch d_vocab"]) -> Float[Tensor, "batch"]:
    """A metric object's per-prompt values from full final-position logits (notebook 09, ``offline.distill``'s
    evaluation).

    Args:
        metric: a :class:`~dcirc_utils.core.metrics.Metric` (``ids`` picks the logits it reads; ``None``: all).
        logits_end: final-position logits, one row per prompt.
    """
    if metric.ids is None:
        return metric(logits_end)
    return metric(logits_end.gather(-1, metric.ids.to(logits_end.device)))


def vocab_mask(rows: Sequence[Sequence[int]], d_vocab: int) -> Bool[Tensor, "batch d_vocab"]:
    """A ``[len(rows), d_vocab]`` boolean mask with ``True`` at each row's token ids (greater-than's metric;
    notebooks 01, 06)."""
    mask = torch.zeros(len(rows), d_vocab, dtype=torch.bool)
    for i, r in enumerate(rows):
        mask[i, list(r)] = True
    return mask


__all__ += ["check_prompt_set", "end_values", "vocab_mask"]
