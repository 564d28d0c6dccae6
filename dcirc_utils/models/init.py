"""Students initialised from their teachers, as DistilGPT2, DistilBERT and Minitron's depth-pruned students were: the
offline pairs' recipe (``dcirc_utils.offline``), the ``*-init`` control pairs (:mod:`dcirc_utils.models.pairs`), which
rebuild a student exactly as it was before distillation, and ``llama-random``'s student (the teacher blocks
Llama-3.1-Minitron-4B-Depth kept).

Each copies a subset of the teacher's blocks (``student_layer_map(T, S)``, ``[0, 2, 4, 7, 9, 11]`` for 12 → 6, or a
given ``layer_map``) and the embeddings; every parameter of the student is a copy, so the result does not depend on
the random state.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch

from ..core.components import check_layer_map, student_layer_map

__all__ = ["init_student_from_teacher", "init_decoder_student", "init_distilbert_from_bert"]


def init_student_from_teacher(teacher, n_student_layers: int | None = None):
    """A student initialised from ``teacher`` the DistilGPT2 way (``offline.distill``; the ``small-init`` control pair).

    Same config with ``n_student_layers`` blocks (default: half the teacher's, rounded up); block ``i`` is a copy
    of teacher block ``student_layer_map(T, S)[i]``; token and position embeddings and the final LayerNorm are
    copied too (the unembedding is tied to the token embedding, as in GPT-2). The teacher is not changed.

    Args:
        teacher: a ``GPT2LMHeadModel``.
        n_student_layers: blocks of the student.

    Raises:
        TypeError: if ``teacher`` is not a ``GPT2LMHeadModel``.
        ValueError: for a layer count outside ``1..n_layer`` of the teacher.
    """
    from transformers import GPT2LMHeadModel
    if not isinstance(teacher, GPT2LMHeadModel):
        raise TypeError(f"teacher must be a transformers GPT2LMHeadModel, got {type(teacher).__name__}; load the "
                        "Hugging Face model (not a TransformerBridge) with GPT2LMHeadModel.from_pretrained")
    n_teacher = teacher.config.n_layer
    n_student = (n_teacher + 1) // 2 if n_student_layers is None else int(n_student_layers)
    layer_map = student_layer_map(n_teacher, n_student)
    cfg = teacher.config.to_dict()
    cfg["n_layer"] = n_student
    student_config = type(teacher.config).from_dict(cfg)
    student = GPT2LMHeadModel(student_config).to(next(teacher.parameters()).device)
    with torch.no_grad():
        src, dst = teacher.transformer, student.transformer
        dst.wte.load_state_dict(src.wte.state_dict())
        dst.wpe.load_state_dict(src.wpe.state_dict())
        dst.ln_f.load_state_dict(src.ln_f.state_dict())
        for i, j in enumerate(layer_map):
            dst.h[i].load_state_dict(src.h[j].state_dict())
    student.tie_weights()
    student.config.dcirc_layer_map = layer_map
    return student


def init_decoder_student(hf_teacher, layer_map: Sequence[int]):
    """A student of a Llama-family teacher (Llama, Mistral, Qwen2: ``model.embed_tokens``, ``model.layers``,
    ``model.norm``, ``lm_head``) that keeps the teacher blocks ``layer_map``, as depth pruning does
    (Llama-3.1-Minitron-4B-Depth kept blocks 0–14 and 31 of Llama-3.1-8B; the ``llama-random`` pair).

    Same config with ``len(layer_map)`` blocks; block ``i`` is a copy of teacher block ``layer_map[i]`` (its
    attention, MLP and both norms); the token embedding, the final norm and the unembedding are copied too (tied
    again if the teacher ties them). Same class, device and dtype as the teacher; the teacher is not changed.

    Args:
        hf_teacher: a Hugging Face ``*ForCausalLM`` of the Llama layout (not a TransformerBridge).
        layer_map: increasing teacher block indices, one per student block.

    Raises:
        TypeError: if ``hf_teacher`` does not have the Llama layout.
        ValueError: if ``layer_map`` is not increasing or leaves ``0..n_layers-1`` of the teacher.
    """
    base = getattr(hf_teacher, "model", None)
    missing = [name for name in ("embed_tokens", "layers", "norm") if not hasattr(base, name)]
    if missing or hf_teacher.get_output_embeddings() is None:
        raise TypeError(f"hf_teacher must be a Llama-family Hugging Face causal LM (model.embed_tokens, model.layers, "
                        f"model.norm, lm_head), got {type(hf_teacher).__name__}"
                        + (f" without model.{', model.'.join(missing)}" if missing else " without an unembedding")
                        + "; GPT-2 students are init_student_from_teacher's")
    n_teacher = len(base.layers)
    lm = check_layer_map(layer_map, n_teacher, len(layer_map))
    cfg = copy.deepcopy(hf_teacher.config)
    cfg.num_hidden_layers = len(lm)
    if getattr(cfg, "layer_types", None) is not None:          # per-layer attention kinds (sliding window, ...)
        cfg.layer_types = [cfg.layer_types[j] for j in lm]
    param = next(hf_teacher.parameters())
    student = type(hf_teacher)(cfg).to(device=param.device, dtype=param.dtype)
    with torch.no_grad():
        student.model.embed_tokens.load_state_dict(base.embed_tokens.state_dict())
        student.model.norm.load_state_dict(base.norm.state_dict())
        for i, j in enumerate(lm):
            student.model.layers[i].load_state_dict(base.layers[j].state_dict())
        if not getattr(cfg, "tie_word_embeddings", False):
            student.get_output_embeddings().load_state_dict(hf_teacher.get_output_embeddings().state_dict())
    student.tie_weights()
    student.config.dcirc_layer_map = lm
    return student.eval()


def init_distilbert_from_bert(teacher, n_student_layers: int | None = None):
    """A ``DistilBertForMaskedLM`` initialised from a ``BertForMaskedLM`` the DistilBERT way (``offline.encoder``; notebook 07).

    Copies word and position embeddings and the embedding LayerNorm (not the token-type embeddings: DistilBERT has
    none), the blocks ``student_layer_map(T, S)`` (query/key/value/output, both LayerNorms, both feed-forward
    layers) and the MLM head (transform, LayerNorm, decoder; the decoder stays tied to the word embeddings).

    Raises:
        TypeError: if ``teacher`` is not a ``BertForMaskedLM``.
    """
    from transformers import BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM
    if not isinstance(teacher, BertForMaskedLM):
        raise TypeError(f"teacher must be a BertForMaskedLM, got {type(teacher).__name__}")
    tc = teacher.config
    n = tc.num_hidden_layers // 2 if n_student_layers is None else int(n_student_layers)
    layer_map = student_layer_map(tc.num_hidden_layers, n)
    sc = DistilBertConfig(vocab_size=tc.vocab_size, dim=tc.hidden_size, n_layers=n, n_heads=tc.num_attention_heads,
                          hidden_dim=tc.intermediate_size, max_position_embeddings=tc.max_position_embeddings,
                          dropout=0.0, attention_dropout=0.0, activation="gelu", pad_token_id=tc.pad_token_id,
                          tie_weights_=True)
    student = DistilBertForMaskedLM(sc).to(next(teacher.parameters()).device)
    with torch.no_grad():
        te, se = teacher.bert.embeddings, student.distilbert.embeddings
        se.word_embeddings.weight.copy_(te.word_embeddings.weight)
        se.position_embeddings.weight.copy_(te.position_embeddings.weight)
        se.LayerNorm.load_state_dict(te.LayerNorm.state_dict())
        for i, j in enumerate(layer_map):
            t, s = teacher.bert.encoder.layer[j], student.distilbert.transformer.layer[i]
            pairs = [(t.attention.self.query, s.attention.q_lin), (t.attention.self.key, s.attention.k_lin),
                     (t.attention.self.value, s.attention.v_lin), (t.attention.output.dense, s.attention.out_lin),
                     (t.attention.output.LayerNorm, s.sa_layer_norm), (t.intermediate.dense, s.ffn.lin1),
                     (t.output.dense, s.ffn.lin2), (t.output.LayerNorm, s.output_layer_norm)]
            for a, b in pairs:
                b.load_state_dict(a.state_dict())
        head = teacher.cls.predictions
        student.vocab_transform.load_state_dict(head.transform.dense.state_dict())
        student.vocab_layer_norm.load_state_dict(head.transform.LayerNorm.state_dict())
        student.vocab_projector.bias.copy_(head.decoder.bias)
    student.tie_weights()
    student.config.dcirc_layer_map = layer_map
    return student
