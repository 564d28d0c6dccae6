"""Naive reference implementations, written for clarity, not speed: one ``run_with_hooks`` forward of a
TransformerLens bridge per ablated component or patched edge, full logits, no caching, TransformerLens hook names
spelled out here (independently of the package's adapters). The engine (``dcirc_utils.engine`` and
``dcirc_utils.methods.discovery``) must agree with these; ``bench/ablation_scan.py`` times them against each other.
Every function takes the bridge itself (``adapter.model``). Node pruning's reference is ``naive_pruning.prune`` with
``ablated_logit_diff`` (or ``study_ablated_logit_diff``) as its value."""
from __future__ import annotations

import torch

from dcirc_utils.core.components import Component, all_components


def hook_name(c: Component) -> str:
    """The TransformerLens hook a component writes (spelled independently of the package's adapter)."""
    return f"blocks.{c.layer}.hook_mlp_out" if c.is_mlp else f"blocks.{c.layer}.attn.hook_z"


def logit_diff(logits, correct, incorrect) -> float:
    end = logits[:, -1]
    return float(sum(end[i, correct[i]] - end[i, incorrect[i]] for i in range(len(correct))) / len(correct))


def corrupted_means(model, corrupted_tokens) -> dict:
    """Per-position mean over the corrupted prompts of every hook_z and hook_mlp_out."""
    _, cache = model.run_with_cache(corrupted_tokens)
    n_layers = model.cfg.n_layers
    out = {}
    for l in range(n_layers):
        for name in (f"blocks.{l}.attn.hook_z", f"blocks.{l}.hook_mlp_out"):
            out[name] = cache[name].mean(0)
    return out


def ablation_hooks(components, means):
    hooks = []
    for c in components:
        def fn(act, hook, c=c):
            act = act.clone()
            if c.is_mlp:
                act[:] = means[hook_name(c)]
            else:
                act[:, :, c.head] = means[hook_name(c)][:, c.head]
            return act
        hooks.append((hook_name(c), fn))
    return hooks


def ablated_logit_diff(model, tokens, correct, incorrect, ablated, means) -> float:
    with torch.inference_mode():
        logits = model.run_with_hooks(tokens, fwd_hooks=ablation_hooks(ablated, means))
    return logit_diff(logits, correct, incorrect)


def ablation_scan(model, tokens, correct, incorrect, means, components=None, base_ablated=()) -> dict:
    comps = components or all_components(model.cfg.n_layers, model.cfg.n_heads)
    return {c: ablated_logit_diff(model, tokens, correct, incorrect, list(base_ablated) + [c], means) for c in comps}


def study_ablated_logit_diff(model, tokens, corrupted_tokens, correct, incorrect, removed, head_means) -> float:
    """Δl with ``removed`` ablated the way the study's code does it: heads by their corrupted mean, MLPs by their mean
    over the corrupted prompts measured with those heads already ablated (one extra forward)."""
    heads = [c for c in removed if not c.is_mlp]
    with torch.inference_mode():
        cache = _run_cache(model, corrupted_tokens, ablation_hooks(heads, head_means))[1]
    means = dict(head_means)
    for l in range(model.cfg.n_layers):
        means[f"blocks.{l}.hook_mlp_out"] = cache[f"blocks.{l}.hook_mlp_out"].mean(0)
    return ablated_logit_diff(model, tokens, correct, incorrect, removed, means)


def path_patch_edge(model, clean_tokens, corrupted_tokens, correct, incorrect, means, circuit, sender, receiver,
                    kind) -> float:
    """Score of one edge: two full forwards (record the receiver input, then patch it), as described in
    dcirc_utils.discovery. Returns Δl / clean Δl of the full model."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    outside = [c for c in all_components(n_layers, n_heads) if c not in set(circuit)]
    base = ablation_hooks(outside, means)
    clean_full = ablated_logit_diff(model, clean_tokens, correct, incorrect, [], means)
    with torch.inference_mode():
        clean_cache, corr_cache = _base_caches(model, clean_tokens, corrupted_tokens, circuit, base)
        heads = [c for c in circuit if not c.is_mlp and c.layer > sender.layer]

        def freeze(act, hook):
            act = act.clone()
            layer = int(hook.name.split(".")[1])
            name = f"blocks.{layer}.attn.hook_z"
            for h in heads:
                if h.layer == layer:
                    act[:, :, h.head] = clean_cache[name][:, :, h.head]
            if not sender.is_mlp and name == hook_name(sender):
                act[:, :, sender.head] = corr_cache[name][:, :, sender.head]
            return act

        def corrupt_mlp(act, hook):
            return corr_cache[hook_name(sender)].clone()

        hooks = list(base)
        hooks += [(f"blocks.{l}.attn.hook_z", freeze) for l in range(n_layers)]
        if sender.is_mlp:
            hooks.append((hook_name(sender), corrupt_mlp))
        if receiver is None:
            recv_name = f"blocks.{n_layers - 1}.hook_resid_post"
        elif kind == "mlp_in":
            recv_name = f"blocks.{receiver.layer}.ln2.hook_in"
        else:
            recv_name = f"blocks.{receiver.layer}.attn.hook_{kind}"
        _, rec_cache = _run_cache(model, clean_tokens, hooks)
        recorded = rec_cache[recv_name]
        if receiver is None:
            x = model.ln_final(recorded)
            logits = model.unembed(x)
            return logit_diff(logits, correct, incorrect) / clean_full

        def patch(act, hook):
            act = act.clone()
            if kind == "mlp_in":
                act[:] = recorded
            else:
                act[:, :, receiver.head] = recorded[:, :, receiver.head]
            return act

        logits = model.run_with_hooks(clean_tokens, fwd_hooks=list(base) + [(recv_name, patch)])
    return logit_diff(logits, correct, incorrect) / clean_full


_BASE = {}


def _base_caches(model, clean_tokens, corrupted_tokens, circuit, base):
    """Clean and corrupted activations with the non-circuit components mean-ablated (memoised per circuit)."""
    key = (id(model), tuple(sorted(circuit)), clean_tokens.data_ptr(), corrupted_tokens.data_ptr())
    if key not in _BASE:
        _BASE.clear()
        _BASE[key] = (_run_cache(model, clean_tokens, base)[1], _run_cache(model, corrupted_tokens, base)[1])
    return _BASE[key]


def _run_cache(model, tokens, hooks):
    cache = {}

    def saver(name):
        def save(act, hook):  # keyed by the name asked for (an alias's hook.name is its canonical name)
            cache[name] = act.detach().clone()
            return act
        return save

    names = [f"blocks.{l}.{s}" for l in range(model.cfg.n_layers)
             for s in ("attn.hook_z", "hook_mlp_out", "attn.hook_q", "attn.hook_k", "attn.hook_v", "ln2.hook_in",
                       "hook_resid_post")]
    # saving hooks go last so that they see the patched values
    logits = model.run_with_hooks(tokens, fwd_hooks=list(hooks) + [(n, saver(n)) for n in names])
    return logits, cache
