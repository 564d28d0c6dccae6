"""The study's MLP measure depends on the signs of its singular vectors (issue 21): LAPACK's vectors span the course's
directions, the table recomputed under sign flips against hand computations, and the range of A over sign choices
end to end on the mini pair."""
from __future__ import annotations

import pytest
import torch

from dcirc_utils.core.tasks import make_prompts
from dcirc_utils.methods.matching import mlp_similarity_table, study_cosine_blocks, study_table_under_signs
from dcirc_utils.methods.mlps import column_signs, lapack_singular_vectors, top_singular_vectors
from dcirc_utils.methods.recipes import COURSE, STUDY_IOI, STUDY_SEQUENCE, alignment_parts, sign_range


def _outputs(seed: int, n_layers: int = 2, d: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # [layer, batch, pos, d]: distinct scales per direction so that the top-3 singular values are well separated
    scale = torch.linspace(3.0, 0.2, d)
    return torch.randn(n_layers, 5, 7, d, generator=g) * scale + 0.5


def test_lapack_vectors_span_the_course_directions_and_column_signs_recover_flips():
    x = _outputs(0)[0]
    ours, lapack = top_singular_vectors(x, 3), lapack_singular_vectors(x, 3)
    signs = column_signs(ours, lapack)
    assert set(signs.tolist()) <= {-1.0, 1.0}
    torch.testing.assert_close(ours * signs, lapack, atol=1e-4, rtol=0)     # the same vectors up to sign
    flips = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)
    assert column_signs(ours, ours * flips).tolist() == flips.tolist()
    with pytest.raises(ValueError, match="shape"):
        column_signs(ours, ours[:, :2])
    with pytest.raises(ValueError, match="k=9"):
        lapack_singular_vectors(x, 9)


def test_table_under_signs_hand_computed_and_equal_to_the_study_table_without_flips():
    blocks = torch.tensor([[[[0.5, 0.2], [-0.1, 0.3]]]])                     # one teacher MLP, one student MLP, k = 2
    assert float(study_table_under_signs(blocks)) == pytest.approx(abs(0.5 + 0.2 - 0.1 + 0.3) / 4)
    t, s = torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 1.0]])           # teacher's 2nd vector flipped: row 2 negated
    assert float(study_table_under_signs(blocks, t, s)) == pytest.approx(abs(0.5 + 0.2 + 0.1 - 0.3) / 4)
    both = study_table_under_signs(blocks, -torch.ones(1, 2), -torch.ones(1, 2))   # flipping everything changes nothing
    assert float(both) == pytest.approx(float(study_table_under_signs(blocks)))
    with pytest.raises(ValueError, match="±1"):
        study_table_under_signs(blocks, torch.tensor([[1.0, 0.5]]))
    with pytest.raises(ValueError, match=r"\[1, 2\]"):
        study_table_under_signs(blocks, torch.ones(2, 2))
    t_out, s_out = _outputs(1, 3), _outputs(2, 2)
    # equal to the bit (both average in float64 and store float32), so A from either table is the same A
    assert torch.equal(study_table_under_signs(study_cosine_blocks(t_out, s_out)),
                       mlp_similarity_table(t_out, s_out, "study"))
    with pytest.raises(ValueError, match="shared space"):
        study_cosine_blocks(t_out, _outputs(3, 2, d=6))


def test_sign_range_of_A_on_the_mini_pair(mini_pair):
    ps = make_prompts(10, seed=5, tokenizer=mini_pair.tokenizer)
    t, s = mini_pair.teacher, mini_pair.student
    for recipe in (STUDY_IOI, STUDY_SEQUENCE):                # raw and rescaled MLP similarity
        parts = alignment_parts(t, s, ps, recipe, signs=True)
        r = sign_range(parts, recipe, draws=30)
        assert r.fixed == pytest.approx(parts.alignment(recipe).value, abs=1e-9)   # no flip: the A the verdicts use
        assert len(r.values) == 30 and r.low <= r.median <= r.high and r.width >= 0
        assert sign_range(parts, recipe, draws=30).values == r.values              # seeded
        assert 0 < r.low and r.high <= 1
        # LAPACK's signs are one sign choice among the others: its A is recomputed from the same table
        t_signs, s_signs = parts.lapack_signs
        assert t_signs.shape == (t.n_layers, 3) and s_signs.shape == (s.n_layers, 3)
    with pytest.raises(ValueError, match="draws"):
        sign_range(parts, STUDY_IOI, draws=0)
    with pytest.raises(ValueError, match="signs=True"):
        sign_range(alignment_parts(t, s, ps, STUDY_IOI), STUDY_IOI)
    with pytest.raises(ValueError, match="principal angles"):
        alignment_parts(t, s, ps, COURSE, signs=True)
