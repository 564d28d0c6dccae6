"""The capacity sweep: more students of the small pair's teacher, at other depths, with the same recipe and budget
(notebook 08; ``load_pair("small-s3")``, ``load_pair("small-s9")``).

``python -m dcirc_utils.offline.sweep`` trains a student of each depth in ``--depths`` (default 3 and 9 of the
teacher's 12 layers; the shipped ``small`` student is the 6-layer one) from the saved teacher in
``data/models/small``: each initialised by the same rule (teacher blocks ``student_layer_map(12, k)``), distilled with
the same loss, learning rate, steps and **the same training blocks** as the 6-layer student (the blocks are rebuilt
from the preset's seed, so they are identical), then evaluated on every task and shift variant, before and after
distillation. Writes ``data/models/small/student-<k>/`` (its weights' SHA-256 into ``data/models/small/digests.json``)
and ``data/models/small/sweep.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

import torch

from ..core.paths import MODELS_DIR
from ..models.init import init_student_from_teacher
from ..models.pairs import pick_device
from .distill import make_training_blocks, preset, train_student
from .pair_eval import corpus_kl, evaluate_prompts, weight_drift
from .training import machine_info, round_log, save_model, state_sha256

__all__ = ["SWEEP_DEPTHS", "run_sweep", "main"]

#: the depths trained besides the shipped 6-layer student (a quarter and three quarters of the teacher's 12)
SWEEP_DEPTHS: tuple[int, ...] = (3, 9)


def run_sweep(depths: Sequence[int] = SWEEP_DEPTHS, folder: str | Path | None = None, progress: bool = True,
              threads: int = 2) -> dict:
    """Train, evaluate and save one student per depth in ``depths`` from the small pair's saved teacher.

    Raises:
        FileNotFoundError: if the small pair's teacher is missing (train it first: ``--pair small``).
        ValueError: for a depth outside ``1 .. n_layer − 1``.
    """
    from transformers import AutoTokenizer, GPT2LMHeadModel
    folder = Path(folder) if folder else MODELS_DIR / "small"
    if not (folder / "teacher" / "config.json").exists():
        raise FileNotFoundError(f"no teacher in {folder}: train the small pair first "
                                "(python -m dcirc_utils.offline.distill --pair small)")
    cfg = preset("small", threads=threads)
    torch.set_num_threads(threads)
    device = pick_device(None if cfg.device == "auto" else cfg.device)
    tokenizer = AutoTokenizer.from_pretrained(str(folder / "teacher"))
    teacher = GPT2LMHeadModel.from_pretrained(str(folder / "teacher")).to(device).eval()
    n_layer = teacher.config.n_layer
    bad = [d for d in depths if not 1 <= d < n_layer]
    if bad:
        raise ValueError(f"depths {bad} must be between 1 and {n_layer - 1} (the teacher has {n_layer} layers)")
    t0 = time.perf_counter()
    ids, labels = make_training_blocks(tokenizer, max(cfg.teacher_steps, cfg.student_steps, 1) * cfg.batch_size, cfg)
    out: dict = {"depths": list(depths), "config": {k: getattr(cfg, k) for k in (
        "student_steps", "student_lr", "temperature", "alpha_ce", "alpha_clm", "batch_size", "block_size", "seed")},
        "machine": machine_info(), "threads": threads, "students": {}}
    for depth in depths:
        t1 = time.perf_counter()
        student = init_student_from_teacher(teacher, depth)
        init_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
        init_hash = state_sha256(student)
        s_log = train_student(student, teacher, ids, labels, cfg, device, progress)
        t_train = time.perf_counter() - t1
        save_model(student, tokenizer, folder / f"student-{depth}")
        student_init = init_student_from_teacher(teacher, depth).to(device).eval()
        evaluation = evaluate_prompts({"student": student, "student_init": student_init}, tokenizer, cfg, device)
        out["students"][str(depth)] = {
            "layer_map": student.config.dcirc_layer_map, "params": sum(p.numel() for p in student.parameters()),
            "train_s": t_train, "student_init_sha256": init_hash,
            "student_init_rebuilt_identical": state_sha256(student_init) == init_hash,
            "prompts": evaluation,
            "kl_to_teacher": corpus_kl(student, teacher, tokenizer, cfg, device, cfg.seed + 1_000_003),
            "init_kl_to_teacher": corpus_kl(student_init, teacher, tokenizer, cfg, device, cfg.seed + 1_000_003),
            "weight_drift": weight_drift(student, init_state),
            "log": {k: round_log(v) for k, v in s_log.items()}}
    out["wall_time_s"] = time.perf_counter() - t0
    (folder / "sweep.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line: ``python -m dcirc_utils.offline.sweep [--depths 3 9] [--threads 2] [--quiet]``."""
    p = argparse.ArgumentParser(prog="python -m dcirc_utils.offline.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=list(SWEEP_DEPTHS))
    p.add_argument("--folder", default=None, help="the small pair's folder (default data/models/small)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    out = run_sweep(args.depths, args.folder, progress=not args.quiet, threads=args.threads)
    for depth, s in out["students"].items():
        num = s["prompts"]["numerals"]
        print(f"student-{depth}: numerals top-1 {num['student']['top1']:.3f} (at init {num['student_init']['top1']:.3f}),"
              f" KL {s['kl_to_teacher']['kl']:.4f} (at init {s['init_kl_to_teacher']['kl']:.4f}), {s['train_s']:.0f} s")
    print(f"sweep done in {out['wall_time_s']:.0f} s")
    return out


if __name__ == "__main__":
    main()
