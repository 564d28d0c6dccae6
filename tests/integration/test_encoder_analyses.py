"""Every analysis of the course on the offline encoder pair (notebook 07): head roles, MLP matching, the first-token
cosine, A (against its invariant: a model against itself scores 1) and the noise sweep, which restores the weights."""
from __future__ import annotations

import math

import pytest
import torch

from dcirc_utils.core.tasks import make_task
from dcirc_utils.engine import Engine
from dcirc_utils.methods import heads as H
from dcirc_utils.methods.matching import match_mlps, mlp_similarity_table
from dcirc_utils.methods.mlps import mlp_outputs, positional_cosine
from dcirc_utils.methods.noise import noise_sweep
from dcirc_utils.methods.recipes import COURSE, recipe_alignment


@pytest.fixture(scope="module")
def setting(bert_small_pair):
    ps = make_task("numerals_masked", 8, seed=0, tokenizer=bert_small_pair.tokenizer)
    return bert_small_pair, ps, ps.tokens(bert_small_pair.tokenizer)


def test_encoder_roles_and_mlp_matching(setting):
    pair, ps, tokens = setting
    roles = H.encoder_role_scores(pair.student, tokens)
    assert set(roles) == {"similar-member detection", "numeral mover", "numeral detection"}
    for name, s in roles.items():
        assert s.shape == (pair.student.n_layers, pair.student.n_heads)
        assert bool(torch.isfinite(s).all()) and float(s.min()) >= 0 and float(s.max()) <= 1 + 1e-5, name
    # the mover reads at [MASK], not at the last token ([SEP])
    last = torch.full((tokens.shape[0],), tokens.shape[1] - 1)
    assert not torch.allclose(roles["numeral mover"],
                              H.number_mover_scores(pair.student, tokens, pair.tokenizer, readout=last))
    t_out, s_out = mlp_outputs(pair.teacher, tokens), mlp_outputs(pair.student, tokens)
    table = mlp_similarity_table(t_out, s_out, "principal")
    assert table.shape == (pair.teacher.n_layers, pair.student.n_layers)
    assert len(match_mlps(table)) == pair.student.n_layers
    assert float(positional_cosine(s_out[0], s_out[0]).min()) == pytest.approx(1.0, abs=1e-5)


def test_alignment_on_encoders_and_its_self_check(setting):
    pair, ps, _ = setting
    self_a = recipe_alignment(pair.student, pair.student, ps, COURSE)
    assert self_a.value == pytest.approx(1.0, abs=1e-4)
    a = recipe_alignment(pair.teacher, pair.student, ps, COURSE)
    assert 0.0 < a.value < 1.0 and a.n_matched == pair.student.n_layers * (pair.student.n_heads + 1)


def test_noise_sweep_on_the_encoder_student_restores_it(setting):
    pair, ps, _ = setting
    before = {k: v.clone() for k, v in pair.student.model.state_dict().items()}

    def measure(m):
        return {"clean": Engine.for_prompts(m, ps, progress=False, check_baseline=False).clean_value}

    rows = noise_sweep(pair.teacher, pair.student, [0.0, 1.0], [0, 1], measure, progress=False)
    clean = {(r["level"], r["seed"]): r["clean"] for r in rows}
    assert clean[(1.0, 0)] != clean[(0.0, 0)] and not math.isnan(clean[(1.0, 1)])
    for k, v in pair.student.model.state_dict().items():
        assert torch.equal(v, before[k]), k
