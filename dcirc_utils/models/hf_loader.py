"""Loading a decoder pair from the Hugging Face hub, its cache or two local ``save_pretrained`` folders: each model
resolved (:func:`~dcirc_utils.models.hub.hub_snapshot`, failing fast offline), its config checked to be a causal
decoder the bridge can boot, the two tokenizers checked to agree, each model booted in compatibility mode (key/value
heads ungrouped where asked) and its block-by-block forward checked against its own
(:meth:`~dcirc_utils.models.decoder.DecoderAdapter.check_blockwise_forward`).

The machinery behind :func:`load_hf_pair`, shared by the bring-your-own pairs (:mod:`~dcirc_utils.models.byo`:
``"hf:<teacher>,<student>"`` and :func:`~dcirc_utils.models.byo.register_hf_pair`) and the built-in hub pair
``llama-minitron`` (:mod:`~dcirc_utils.models.builtin`); it knows neither registry of names, so both can import it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from ..core.components import check_layer_map
from .adapters import FamilyError
from .decoder import DecoderAdapter, boot_bridge
from .hub import hub_snapshot, quiet_loading
from .registry import ModelPair, PairUnavailableError, TokenizerMismatchError
from .surgery import ungroup_kv
from .tokenizers import folder_tokenizer, local_tokenizer, vocab_difference

__all__ = ["HF_PREFIX", "load_hf_pair"]

#: the prefix of a bring-your-own pair's name: ``load_pair("hf:<teacher>,<student>")``
HF_PREFIX = "hf:"
#: what a hub snapshot of a bring-your-own model fetches: configs, safetensors weights, tokenizer files
_BYO_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]


def _byo_fixes(source: str) -> str:
    return (f"Fixes: (1) connect to the internet once so that the Hugging Face cache fills with {source!r} (then it "
            "works offline); (2) point HF_HOME at a folder that already holds its cache; (3) download it elsewhere "
            "(e.g. `huggingface-cli download " + source + " --local-dir DIR`) and pass the local folder: "
            f"load_pair('{HF_PREFIX}TEACHER_DIR,STUDENT_DIR').")


def _resolve_model(source: str, role: str) -> Path:
    """The local folder of a bring-your-own model: ``source`` itself if it is a folder, else a hub snapshot."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise PairUnavailableError(f"the {role} folder {str(path)!r} holds no config.json: save the model there "
                                       "with model.save_pretrained(folder) (and its tokenizer with "
                                       "tokenizer.save_pretrained(folder))")
        return path
    if source.startswith(("/", "./", "../", "~")) or source.count("/") > 1 or os.sep in source.replace("/", ""):
        raise PairUnavailableError(f"the {role} {source!r} is neither an existing folder nor a hub id "
                                   "('org/model'): check the path")
    return hub_snapshot(source, _byo_fixes(source), patterns=_BYO_PATTERNS)


def _decoder_config(folder: Path, role: str, source: str) -> dict:
    """The model's ``config.json``, checked to describe a causal decoder that the bridge has an adapter for.

    Raises:
        FamilyError: for an encoder-decoder, an encoder or another head, or an architecture the bridge cannot boot.
    """
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    cfg = json.loads((folder / "config.json").read_text())
    archs = cfg.get("architectures") or []
    arch = archs[0] if archs else None
    what = f"the {role} {source!r} ({arch or cfg.get('model_type', '?')})"
    if cfg.get("is_encoder_decoder"):
        raise FamilyError(f"{what} is an encoder-decoder model: this package analyses decoder-only pairs (one stack "
                          "of causal blocks, read out at the last position) and encoder pairs (the bert pairs), not "
                          "encoder-decoders (T5, BART). Use a decoder-only teacher and student (GPT-2, Llama, Qwen2)")
    if arch is None:
        raise FamilyError(f"{what}: config.json names no architecture, so the bridge cannot pick its adapter; save "
                          "the model with its *ForCausalLM class (model.save_pretrained writes 'architectures')")
    if not (arch.endswith("ForCausalLM") or arch.endswith("LMHeadModel")):
        raise FamilyError(f"{what} is not a causal language model (its class is {arch}; a decoder pair needs a "
                          "*ForCausalLM or *LMHeadModel checkpoint). Encoders such as BERT use the encoder pairs "
                          "(bert, bert-small); for other heads save the causal-LM class of the same model")
    if arch not in SUPPORTED_ARCHITECTURES:
        from transformer_lens.factories.architecture_adapter_factory import ArchitectureAdapterFactory
        ArchitectureAdapterFactory.discover_entry_points()
        if arch not in getattr(ArchitectureAdapterFactory, "_adapters", {}):
            raise FamilyError(f"{what}: TransformerLens's TransformerBridge has no adapter for {arch}, so it cannot "
                              "boot it. Use a supported family (GPT-2, Llama, Qwen2, Mistral, ...; see "
                              "transformer_lens.factories.architecture_adapter_factory.SUPPORTED_ARCHITECTURES) or "
                              "register an adapter with ArchitectureAdapterFactory.register_adapter")
    return cfg


def _pair_tokenizer(dirs: dict[str, Path], sources: dict[str, str], tokenizer):
    """The one tokenizer of a bring-your-own pair, after checking that every tokenizer on offer agrees.

    Raises:
        TokenizerMismatchError: when the teacher's, the student's or the given tokenizer disagree.
        PairUnavailableError: when neither model ships a tokenizer and none is given.
    """
    offered = {role: folder_tokenizer(d) for role, d in dirs.items()}
    if tokenizer is not None:
        if isinstance(tokenizer, (str, Path)):
            tok_dir = Path(tokenizer).expanduser()
            if not tok_dir.is_dir():
                tok_dir = hub_snapshot(str(tokenizer), _byo_fixes(str(tokenizer)), patterns=_BYO_PATTERNS)
            tokenizer = local_tokenizer(tok_dir)
        offered = {"given tokenizer": tokenizer, **offered}
    found = {role: tok for role, tok in offered.items() if tok is not None}
    if not found:
        raise PairUnavailableError(f"neither {sources['teacher']!r} nor {sources['student']!r} ships a tokenizer: "
                                   "save one into the folders (tokenizer.save_pretrained) or pass tokenizer=... to "
                                   "register_hf_pair")
    (first_role, tok), *others = found.items()
    for role, other in others:
        diff = vocab_difference(tok, other)
        if diff is not None:
            raise TokenizerMismatchError(
                f"the {first_role}'s and the {role}'s tokenizers differ ({diff}): a teacher and its student must "
                "share one vocabulary, because the prompts, the answers and every comparison use the same token ids "
                "in both models. Fix: pair the teacher with a student distilled from it (same tokenizer), or, if both "
                "models really were trained on one vocabulary, save that tokenizer into both folders or pass it as "
                "tokenizer=...")
    return tok


def _boot_byo(folder: Path, cfg: dict, source: str, role: str, tok, device: torch.device, ungroup_gqa: bool,
              label: str, device_map=None, dtype: torch.dtype | None = None) -> DecoderAdapter:
    """One bring-your-own model as a checked :class:`DecoderAdapter` (grouped key/value heads ungrouped first when
    asked)."""
    text = cfg.get("text_config") or cfg
    n_heads = text.get("num_attention_heads")
    n_kv = text.get("num_key_value_heads") or n_heads
    try:
        if not (ungroup_gqa and n_heads and n_kv != n_heads):
            bridge = boot_bridge(folder, device, tokenizer=tok, device_map=device_map, dtype=dtype)
        else:
            from transformers import AutoConfig, AutoModelForCausalLM
            with quiet_loading():
                hf_cfg = AutoConfig.from_pretrained(str(folder))
                placed = {} if device_map is None else {"device_map": device_map}
                hf = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or torch.float32,
                                                          attn_implementation="eager", **placed).eval()
            text_cfg = hf.config.get_text_config() if hasattr(hf.config, "get_text_config") else hf.config
            head_dim = getattr(text_cfg, "head_dim", None) or text_cfg.hidden_size // n_heads
            probe = ((torch.arange(8)[None] * 7 + 3) % min(text_cfg.vocab_size, 1000)).to(hf.device)
            with torch.inference_mode():
                before = hf(probe).logits
                ungroup_kv(hf, n_heads, n_kv, head_dim, source)
                after = hf(probe).logits
            if not torch.allclose(before, after, rtol=1e-4, atol=1e-4 * max(1.0, float(before.abs().max()))):
                raise FamilyError(f"{source!r}: ungrouping its key/value heads changed its logits by "
                                  f"{float((before - after).abs().max()):.3g}; load it with "
                                  "register_hf_pair(..., ungroup_gqa=False)")
            hf_cfg_text = hf_cfg.get_text_config() if hasattr(hf_cfg, "get_text_config") else hf_cfg
            hf_cfg_text.num_key_value_heads = n_heads
            with tempfile.TemporaryDirectory(prefix="dcirc-byo-") as tmp:
                hf_cfg.save_pretrained(tmp)   # the bridge reads the (now ungrouped) config from a folder
                tok.save_pretrained(tmp)
                bridge = boot_bridge(tmp, device if device_map is None else hf.device, hf_model=hf, tokenizer=tok,
                                 dtype=dtype)
    except OSError as err:  # missing or unreadable weights
        raise PairUnavailableError(f"could not load the {role} {source!r} from {str(folder)!r}: {err}. The folder "
                                   "needs the model's config.json and *.safetensors weights (save_pretrained writes "
                                   "both)") from err
    adapter = DecoderAdapter(bridge, tok, label)
    adapter.check_blockwise_forward()
    return adapter


def load_hf_pair(name: str, teacher: str, student: str, device: torch.device, layer_map: list[int] | None = None,
                  tokenizer=None, ungroup_gqa: bool = True, device_map=None,
                  dtype: torch.dtype | None = None, labels: dict[str, str] | None = None) -> ModelPair:
    """Load a decoder pair from two hub ids or folders: a bring-your-own pair
    (:func:`~dcirc_utils.models.byo.register_hf_pair`, ``load_pair("hf:...")``) or the built-in hub pair
    ``llama-minitron``. ``labels``: ``{"teacher": ..., "student": ...}`` for the adapters (default: the last part of
    each hub id or folder)."""
    sources = {"teacher": teacher, "student": student}
    dirs = {role: _resolve_model(src, role) for role, src in sources.items()}
    cfgs = {role: _decoder_config(dirs[role], role, sources[role]) for role in sources}
    tok = _pair_tokenizer(dirs, sources, tokenizer)
    for role, cfg in cfgs.items():
        vocab = (cfg.get("text_config") or cfg).get("vocab_size")
        if vocab is not None and len(tok) > vocab:
            raise TokenizerMismatchError(f"the tokenizer has {len(tok)} tokens but the {role} {sources[role]!r} "
                                         f"embeds only {vocab}: it was not trained on this vocabulary. Pass the "
                                         "tokenizer the models were trained with (tokenizer=...)")
    if labels is None:
        labels = {role: Path(src.rstrip("/")).name or src for role, src in sources.items()}
        if labels["teacher"] == labels["student"]:
            labels = {role: f"{role} ({lab})" for role, lab in labels.items()}
    adapters = {role: _boot_byo(dirs[role], cfgs[role], sources[role], role, tok, device, ungroup_gqa, labels[role],
                                device_map, dtype) for role in sources}
    t, s = adapters["teacher"], adapters["student"]
    lm = None if layer_map is None else check_layer_map(layer_map, t.n_layers, s.n_layers)

    def shape(role: str) -> str:
        a, text = adapters[role], cfgs[role].get("text_config") or cfgs[role]
        n_kv = text.get("num_key_value_heads") or a.n_heads
        kv = "" if n_kv == a.n_heads else f", {n_kv} key/value heads{' (ungrouped)' if ungroup_gqa else ''}"
        return f"{a.architecture}: {a.n_layers} layers × {a.n_heads} heads{kv}, d_model={a.d_model}"

    return ModelPair(name, t, s, tok,
                     f"bring-your-own pair: {teacher} ({shape('teacher')}) -> {student} ({shape('student')}), "
                     "booted through TransformerLens's TransformerBridge in compatibility mode"
                     + (f"; student blocks copied from teacher blocks {lm}" if lm else ""), layer_map=lm)
