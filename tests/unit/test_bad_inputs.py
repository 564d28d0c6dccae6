"""Bad inputs end in a clear error that names the bad value and the fix (issue 23), one test per case: unknown
verbs, components outside the model, patches of the wrong shape, pruning candidates, broken prompt files and a
model whose weights hold NaN (mini pair)."""
from __future__ import annotations

import copy
import json
import re

import pytest
import torch

from dcirc_utils.core import tasks
from dcirc_utils.core.components import Component, Site
from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.engine import Engine, Patch
from dcirc_utils.methods.discovery import path_patch, prune_nodes


@pytest.fixture(scope="module")
def prompts(mini_pair):
    return make_prompts(6, seed=1, tokenizer=mini_pair.tokenizer)


@pytest.fixture(scope="module")
def engine(mini_pair, prompts):
    return Engine.for_prompts(mini_pair.teacher, prompts, progress=False)


class _BornSplits:
    """A tokenizer for which " born" is two tokens and everything else one."""

    unk_token_id = 0

    def encode(self, text, add_special_tokens=False):
        return [1, 2] if "born" in text else [1]


def test_unknown_verbs_are_named_with_the_known_ones(mini_pair):
    known = r"unknown verbs \['zzqx'\]: the numeral task knows \('done', 'lost', 'born'\)"
    with pytest.raises(ValueError, match=known):
        make_prompts(verbs=["zzqx"])
    with pytest.raises(ValueError, match=r"unknown verbs \['zzqx'\]"):
        tasks.make_task("numerals_masked", 4, verbs=["done", "zzqx"], tokenizer=None)
    with pytest.raises(ValueError, match=r"verbs \['done'\] are not allowed in the 'verb_shift'.*template verbs"):
        make_prompts(variant="verb_shift", verbs=["found", "done"])
    with pytest.raises(ValueError, match=r"the string 'done': write verbs=\['done'\]"):
        make_prompts(verbs="done")
    with pytest.raises(ValueError, match="verbs is empty"):
        make_prompts(verbs=[])
    with pytest.raises(ValueError, match=r"verbs \['born'\] are not one known token.*pass verbs=\['done'\]"):
        make_prompts(verbs=["done", "born"], tokenizer=_BornSplits())
    # a known verb passes, and the tokenizer check accepts the mini pair's verbs
    assert {m["verb"] for m in make_prompts(6, verbs=["lost"], tokenizer=mini_pair.tokenizer).meta} == {"lost"}


def test_components_outside_the_model_are_named_at_every_entry_point(engine):
    outside = r"component 0\.99 is outside 'mini-teacher': it has 6 layers \(0–5\) and 4 heads per layer \(0–3\)"
    with pytest.raises(ValueError, match=outside):
        engine.ablation_scan([Component(0, 0), Component(0, 99)])
    with pytest.raises(ValueError, match=r"component MLP99 is outside 'mini-teacher'"):
        engine.mean_ablation([Component(99)])
    with pytest.raises(ValueError, match=r"component 99\.0 is outside"):
        engine.zero_ablation([Component(99, 0)])
    with pytest.raises(ValueError, match=r"components 0\.99, MLP99 are outside"):
        engine.circuit_base([Component(0, 99), Component(99)])
    with pytest.raises(ValueError, match=outside):
        path_patch(engine, [Component(0, 0), Component(0, 99)])
    values = engine.means[Site("z", 0)][:, 0]
    with pytest.raises(ValueError, match=outside):
        engine.evaluate([[Patch(Site("z", 0), 99, values)]])
    with pytest.raises(ValueError, match=r"z@99 needs a layer in 0\.\.5"):
        engine.evaluate([], [Patch(Site("z", 99), 0, values)])
    assert engine.check_components(["0.3", Component(5)]) == [Component(0, 3), Component(5)]


def test_patch_of_the_wrong_shape_names_site_and_shapes(engine):
    site = Site("mlp_out", 1)
    pos, d = engine.tokens["clean"].shape[1], engine.adapter.d_model
    with pytest.raises(ValueError, match=re.escape(f"the patch at mlp_out@1 has values of shape (3, 5), but "
                                                   f"'mini-teacher' takes ({pos}, {d}) there")):
        engine.evaluate([[Patch(site, None, torch.zeros(3, 5))]])
    clean = engine.capture([site])[site]              # per-prompt values passed as per-position ones
    with pytest.raises(ValueError, match=re.escape(f"shape {tuple(clean.shape)}, but 'mini-teacher' takes ({pos}, "
                                                   f"{d})") + ".*pass per_prompt=True"):
        engine.evaluate([[Patch(site, None, clean)]])
    with pytest.raises(ValueError, match=r"the patch at z@2 \(head 1\) has values of shape \(\d+, 4, 32\)"):
        engine.evaluate([[Patch(Site("z", 2), 1, engine.means[Site("z", 2)])]])
    with pytest.raises(ValueError, match=r"mlp_out@1 has index=0.*pass index=None"):
        engine.evaluate([[Patch(site, 0, clean[:, :, 0])]])


def test_prune_nodes_rejects_unknown_and_empty_candidates(engine):
    with pytest.raises(ValueError, match=r"component 0\.99 is outside 'mini-teacher'"):
        prune_nodes(engine, candidates=[Component(0, 99)], progress=False)
    with pytest.raises(ValueError, match=r"candidates=\[\] leaves nothing to prune.*candidates=None"):
        prune_nodes(engine, candidates=[], progress=False)


def test_prompt_files_are_checked_on_load(tmp_path, mini_pair):
    data = json.loads((tasks.DATA_DIR / "prompts" / "numerals.json").read_text())
    data["correct"] = data["correct"][:-3]                             # 3 answers missing
    short = tmp_path / "short.json"
    short.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(f"{short}: its parallel lists differ in length (clean 100, "
                                                   "corrupted 100, correct 97, incorrect 100, meta 100)")):
        tasks.load_prompt_set(short)
    del data["seed"]
    short.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=re.escape(f"{short} is not a prompt set: it lacks the keys ['seed']")):
        tasks.load_prompt_set(short)
    ps = make_prompts(4, seed=0)
    ps.correct[1] = " 5 6"                                            # an answer of two tokens
    path = tasks.save_prompt_set(ps, tmp_path / "two_tokens.json")
    assert tasks.load_prompt_set(path) == ps                          # the schema is fine
    with pytest.raises(ValueError, match=re.escape(f"{path}: answer ' 5 6' is 2 tokens")):
        tasks.load_prompt_set(path, tokenizer=mini_pair.tokenizer)


def test_nan_weights_stop_the_engine_with_the_fix(mini_pair, prompts):
    damaged = copy.deepcopy(mini_pair.teacher)                       # the session's pair stays intact
    with torch.no_grad():
        damaged.model.W_pos[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match=r"'mini-teacher' gives non-finite logits.*clean Δl is nan.*"
                                           r"`git checkout data/models`"):
        Engine.for_prompts(damaged, prompts, progress=False)
