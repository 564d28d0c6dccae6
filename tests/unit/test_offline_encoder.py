"""The offline encoder pair's recipe (dcirc_utils.offline.encoder; notebook 07): the tokenizer, BERT's masking with
last-word and number masking, the DistilBERT initialisation and loss, a tiny end-to-end run that reruns bit for bit,
and the shipped pair ``bert-small`` against the targets of its card."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from dcirc_utils.core.components import student_layer_map
from dcirc_utils.core.paths import MODELS_DIR
from dcirc_utils.offline import encoder as E

BERT_SMALL = MODELS_DIR / "bert-small"


@pytest.fixture(scope="module")
def tok():
    texts = ["Van done in 1. Hat done in 2. Ring done in 3.", "In 1732, the fox saw the key. Mary went to the park.",
             "Box lost in one. Dog lost in two."]
    return E.build_encoder_tokenizer(texts)


def test_tokenizer_reads_the_masked_task_as_bert_does(tok):
    ids = tok("Van done in 1. Sun done in [MASK]")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "van", "done", "in", "1", ".", "sun", "done", "in", "[MASK]",
                                              "[SEP]"]
    assert tok.convert_ids_to_tokens(tok("in 1732")["input_ids"])[1:-1] == ["in", "1732"]   # a year stays whole
    assert ids[-2] == tok.mask_token_id == E.SPECIALS["[MASK]"]


def _cfg(**kw):
    return dataclasses.replace(E.EncoderConfig(), **kw)


def test_masking_chooses_what_it_says(tok):
    ids = torch.tensor([tok("[PAD] van done in 1 . sun done in 2")["input_ids"][1:-1]] * 2000)
    ids = torch.cat([torch.full((2000, 1), E.SPECIALS["[CLS]"]), ids], dim=1)
    tail = torch.zeros_like(ids, dtype=torch.bool)
    tail[:, -1] = True                                                      # the last word: "2"
    g = torch.Generator().manual_seed(0)
    x, y = E.mask_tokens(ids, tail, len(tok), _cfg(mask_prob=0.0, tail_mask=1.0, number_mask=0.0), g)
    chosen = y != -100
    assert chosen[:, -1].all() and not chosen[:, :-1].any()                 # only the tail, every time
    assert torch.equal(y[chosen], ids[chosen])
    share_mask = float((x[:, -1] == tok.mask_token_id).float().mean())
    assert 0.75 < share_mask < 0.85                                         # 80 % become [MASK]
    numbers = E.number_tokens(tok)
    x, y = E.mask_tokens(ids, tail, len(tok), _cfg(mask_prob=0.0, tail_mask=0.0, number_mask=1.0), g, numbers)
    chosen = y != -100
    assert torch.equal(chosen, numbers[ids])                                # every number token, nothing else
    x, y = E.mask_tokens(ids, tail, len(tok), _cfg(mask_prob=1.0, tail_mask=0.0, number_mask=0.0), g)
    assert not (y[:, :2] != -100).any()                                     # special tokens are never asked
    with pytest.raises(ValueError, match="probability"):
        _cfg(number_mask=1.5).validate()


def _tiny_teacher(vocab: int):
    from transformers import BertForMaskedLM
    torch.manual_seed(0)
    return BertForMaskedLM(E.teacher_config(vocab, _cfg(n_layer=4, n_head=2, d_model=16))).eval()


def test_student_init_copies_every_other_block_and_the_loss_by_hand(tok):
    from dcirc_utils.models.init import init_distilbert_from_bert
    teacher = _tiny_teacher(len(tok))
    student = init_distilbert_from_bert(teacher, 2).eval()
    layer_map = student_layer_map(4, 2)
    assert student.config.dcirc_layer_map == layer_map
    for i, j in enumerate(layer_map):
        torch.testing.assert_close(student.distilbert.transformer.layer[i].ffn.lin1.weight,
                                   teacher.bert.encoder.layer[j].intermediate.dense.weight)
    assert not hasattr(student.distilbert.embeddings, "token_type_embeddings")
    # DistilBERT's loss on identical outputs: KL 0, cosine 1, so the loss is α_mlm · MLM
    logits, hidden = torch.randn(2, 5, 7), torch.randn(2, 5, 4)
    labels = torch.tensor([[-100, 3, -100, -100, 1], [-100] * 5])
    parts = E.distilbert_loss(logits, logits, hidden, hidden, labels, torch.ones(2, 5), _cfg())
    mlm = torch.nn.functional.cross_entropy(logits[0, [1, 4]], torch.tensor([3, 1]))
    assert float(parts["kl"]) == pytest.approx(0.0, abs=1e-6) and float(parts["cos"]) == pytest.approx(1.0, abs=1e-6)
    assert float(parts["loss"]) == pytest.approx(2.0 * float(mlm), rel=1e-5)


def test_tiny_end_to_end_run_is_bit_identical(tmp_path):
    cfg = _cfg(n_layer=2, student_layers=1, n_head=2, d_model=16, teacher_steps=3, student_steps=2, batch_size=4,
               eval_prompts=4, kl_docs=8, threads=1)
    ev = E.run(cfg, tmp_path / "a", progress=False)
    E.run(cfg, tmp_path / "b", progress=False)
    log_a = json.loads((tmp_path / "a" / "training_log.json").read_text())
    log_b = json.loads((tmp_path / "b" / "training_log.json").read_text())
    assert log_a["student_sha256"] == log_b["student_sha256"] and log_a["teacher_sha256"] == log_b["teacher_sha256"]
    assert log_a["student_init_sha256"] != log_a["student_sha256"]        # the student moved
    assert set(ev["prompts"]) == {"numerals_masked", "numerals_masked@any_start", "ioi_masked"}
    for name in ("teacher", "student"):
        assert (tmp_path / "a" / name / "model.safetensors").exists()


# --------------------------------------------------------------------------------------------- the shipped pair
def test_shipped_bert_small_meets_its_targets():
    if not (BERT_SMALL / "student" / "model.safetensors").exists():
        pytest.skip("data/models/bert-small not trained yet: python -m dcirc_utils.offline.encoder")
    from dcirc_utils import load_pair
    from dcirc_utils.core.tasks import make_task
    from dcirc_utils.methods.evaluation import evaluate_task
    size = sum(p.stat().st_size for p in BERT_SMALL.rglob("*") if p.is_file())
    assert size < 15 * 2 ** 20
    pair = load_pair("bert-small", device="cpu")
    assert (pair.teacher.n_layers, pair.teacher.n_heads, pair.student.n_layers) == (12, 12, 6)
    assert type(pair.student.model).__name__ == "DistilBertForMaskedLM"
    ps = make_task("numerals_masked", 200, seed=0, tokenizer=pair.tokenizer)          # held-out, the study's form
    t, s = evaluate_task(pair.teacher, ps, corrupted=False), evaluate_task(pair.student, ps, corrupted=False)
    assert t["accuracy"] >= 0.98 and t["value"] >= 3.0
    assert s["accuracy"] >= 0.95


def test_bert_small_init_is_the_student_before_distillation():
    """The copy control of the encoder pair (notebook 07): the student rebuilt from the teacher is bit for bit the one
    the recipe started from (its SHA-256 in the training log), its blocks are the teacher's ``layer_map`` blocks, and
    the distilled student moved away from it."""
    if not (BERT_SMALL / "student" / "model.safetensors").exists():
        pytest.skip("data/models/bert-small not trained yet: python -m dcirc_utils.offline.encoder")
    from dcirc_utils import load_pair
    from dcirc_utils.models.pairs import copy_control_name
    from dcirc_utils.offline.distill import state_sha256
    log = json.loads((BERT_SMALL / "training_log.json").read_text())
    init, pair = load_pair("bert-small-init", device="cpu"), load_pair("bert-small", device="cpu")
    assert copy_control_name("bert-small") == "bert-small-init" == copy_control_name("bert-small-init")
    assert state_sha256(init.student.model) == log["student_init_sha256"] != log["student_sha256"]
    t_layers, s_layers = init.teacher.model.bert.encoder.layer, init.student.model.distilbert.transformer.layer
    for i, j in enumerate(log["layer_map"]):
        torch.testing.assert_close(s_layers[i].attention.q_lin.weight, t_layers[j].attention.self.query.weight,
                                   rtol=0, atol=0)
    moved = pair.student.model.distilbert.transformer.layer[1].attention.q_lin.weight
    assert not torch.equal(moved, s_layers[1].attention.q_lin.weight)
