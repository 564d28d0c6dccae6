"""Naive reference for the encoders, written for clarity, not speed: one Hugging Face forward per ablated component
or patched edge, with plain PyTorch hooks on the Hugging Face modules themselves (independent of the package's
EncoderAdapter, whose forward is written on the same modules but run block by block). The engine must agree with
these on ``bert-random`` and the offline encoder pair."""
from __future__ import annotations

import contextlib

import torch

from dcirc_utils.core.components import all_components


def modules(model):
    """Per layer: the attention output projection (its input is the heads' z), q/k/v, the MLP's first and second
    layers, for a BertForMaskedLM or a DistilBertForMaskedLM."""
    if type(model).__name__ == "BertForMaskedLM":
        return [dict(o=b.attention.output.dense, q=b.attention.self.query, k=b.attention.self.key,
                     v=b.attention.self.value, fc1=b.intermediate.dense, fc2=b.output.dense)
                for b in model.bert.encoder.layer]
    return [dict(o=b.attention.out_lin, q=b.attention.q_lin, k=b.attention.k_lin, v=b.attention.v_lin,
                 fc1=b.ffn.lin1, fc2=b.ffn.lin2) for b in model.distilbert.transformer.layer]


@contextlib.contextmanager
def hooked(model, pre=(), post=()):
    """Install forward pre-hooks ``(module, fn(input) -> input)`` and forward hooks ``(module, fn(output) ->
    output)`` for the duration of a ``with`` block."""
    handles = [m.register_forward_pre_hook(lambda mod, args, f=f: (f(args[0]),) + tuple(args[1:])) for m, f in pre]
    handles += [m.register_forward_hook(lambda mod, args, out, f=f: f(out)) for m, f in post]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def n_heads(model):
    return model.config.num_attention_heads if hasattr(model.config, "num_attention_heads") else model.config.n_heads


def corrupted_means(model, corr):
    """Per layer, the mean over the corrupted prompts of the heads' z ``[pos, head, d_head]`` and the MLP output."""
    mods, H = modules(model), n_heads(model)
    store = {}
    pre = [(m["o"], (lambda x, l=l: store.__setitem__(("z", l), x.detach().clone()) or x)) for l, m in enumerate(mods)]
    post = [(m["fc2"], (lambda y, l=l: store.__setitem__(("mlp", l), y.detach().clone()) or y))
            for l, m in enumerate(mods)]
    with torch.inference_mode(), hooked(model, pre, post):
        model(input_ids=corr)
    out = {}
    for l in range(len(mods)):
        z = store[("z", l)]
        out[("z", l)] = z.view(*z.shape[:2], H, -1).mean(0)
        out[("mlp", l)] = store[("mlp", l)].mean(0)
    return out


def _ablation_hooks(model, ablated, means):
    mods, H = modules(model), n_heads(model)
    pre, post = [], []
    for c in ablated:
        if c.is_mlp:
            post.append((mods[c.layer]["fc2"], lambda y, m=means[("mlp", c.layer)]: m.expand_as(y).clone()))
        else:
            def f(x, c=c):
                x = x.clone()
                v = x.view(*x.shape[:2], H, -1)
                v[:, :, c.head] = means[("z", c.layer)][:, c.head]
                return x
            pre.append((mods[c.layer]["o"], f))
    return pre, post


def logit_diff(model, tokens, correct, incorrect, mask_id, ablated=(), means=None, extra_pre=(), extra_post=()):
    pre, post = _ablation_hooks(model, ablated, means) if ablated else ([], [])
    with torch.inference_mode(), hooked(model, pre + list(extra_pre), post + list(extra_post)):
        logits = model(input_ids=tokens).logits
    pos = (tokens == mask_id).long().argmax(-1)
    end = logits[torch.arange(len(tokens)), pos]
    idx = torch.arange(len(tokens))
    return float((end[idx, correct] - end[idx, incorrect]).mean())


def ablation_scan(model, tokens, correct, incorrect, mask_id, means, components, base_ablated=()):
    return {c: logit_diff(model, tokens, correct, incorrect, mask_id, list(base_ablated) + [c], means)
            for c in components}


def edge_score(model, clean, corr, correct, incorrect, mask_id, means, circuit, sender, receiver, kind):
    """Path patching of one edge with Hugging Face hooks (as dcirc_utils.methods.discovery describes it): two
    forwards, the first recording the receiver's input with the sender corrupted and later circuit heads frozen to
    their clean values, the second patching only that input. Returns Δl / clean Δl of the full model."""
    mods, H = modules(model), n_heads(model)
    n_layers = len(mods)
    outside = [c for c in all_components(n_layers, H) if c not in set(circuit)]
    clean_full = logit_diff(model, clean, correct, incorrect, mask_id)

    def record(tokens, hooks_pre=(), hooks_post=()):
        store = {}
        pre = [(m["o"], (lambda x, l=l: store.__setitem__(("z", l), x.detach().clone()) or x))
               for l, m in enumerate(mods)]
        pre += [(m["fc1"], (lambda x, l=l: store.__setitem__(("mlp_in", l), x.detach().clone()) or x))
                for l, m in enumerate(mods)]
        post = [(m["fc2"], (lambda y, l=l: store.__setitem__(("mlp", l), y.detach().clone()) or y))
                for l, m in enumerate(mods)]
        for kd in "qkv":
            post += [(m[kd], (lambda y, l=l, kd=kd: store.__setitem__((kd, l), y.detach().clone()) or y))
                     for l, m in enumerate(mods)]
        b_pre, b_post = _ablation_hooks(model, outside, means)
        with torch.inference_mode(), hooked(model, b_pre + list(hooks_pre) + pre, b_post + list(hooks_post) + post):
            out = model(input_ids=tokens, output_hidden_states=True)
        store["final"] = out.hidden_states[-1]
        return store

    clean_store, corr_store = record(clean), record(corr)
    frozen = [h for h in circuit if not h.is_mlp and h.layer > sender.layer]
    pre, post = [], []
    for l in range(n_layers):
        heads_l = [h for h in frozen if h.layer == l]
        corrupt_here = not sender.is_mlp and sender.layer == l
        if heads_l or corrupt_here:
            def f(x, l=l, heads_l=heads_l, corrupt_here=corrupt_here):
                x = x.clone()
                v = x.view(*x.shape[:2], H, -1)
                for h in heads_l:
                    v[:, :, h.head] = clean_store[("z", l)].view(*x.shape[:2], H, -1)[:, :, h.head]
                if corrupt_here:
                    v[:, :, sender.head] = corr_store[("z", l)].view(*x.shape[:2], H, -1)[:, :, sender.head]
                return x
            pre.append((mods[l]["o"], f))
    if sender.is_mlp:
        post.append((mods[sender.layer]["fc2"], lambda y: corr_store[("mlp", sender.layer)].clone()))
    rec = record(clean, pre, post)
    b_pre, b_post = _ablation_hooks(model, outside, means)
    if receiver is None:
        from dcirc_utils.models.encoder import EncoderAdapter

        class _Tok:
            mask_token_id = mask_id
        adapter = EncoderAdapter(model, _Tok())
        pos = (clean == mask_id).long().argmax(-1)
        with torch.inference_mode():
            end = adapter.logits_at(rec["final"][torch.arange(len(clean)), pos])
        idx = torch.arange(len(clean))
        return float((end[idx, correct] - end[idx, incorrect]).mean()) / clean_full
    if kind == "mlp_in":
        patch_pre = [(mods[receiver.layer]["fc1"], lambda x: rec[("mlp_in", receiver.layer)].clone())]
        patch_post = []
    else:
        def g(y):
            y = y.clone()
            v = y.view(*y.shape[:2], H, -1)
            v[:, :, receiver.head] = rec[(kind, receiver.layer)].view(*y.shape[:2], H, -1)[:, :, receiver.head]
            return y
        patch_pre, patch_post = [], [(mods[receiver.layer][kind], g)]
    value = logit_diff(model, clean, correct, incorrect, mask_id, extra_pre=b_pre + patch_pre,
                       extra_post=b_post + patch_post)
    return value / clean_full
