"""MLPs: outputs, teacher ↔ student similarity (cosine, subspaces, CCA), the merging test and logit attribution.

Used by notebook 04 (MLPs). The study compared each student MLP with the teacher MLPs it might have absorbed
("merging": DistilGPT2's MLP4 against GPT-2's MLP9 and MLP10) by the cosine of their outputs per position, by the
similarity of the top singular vectors of their output covariances, and by CCA. This module gives those measures,
says exactly what each one is invariant to, and adds a held-out regression test of the merging claim
(:func:`merge_test`).

All measures take MLP outputs (``Site("mlp_out", l)``) as ``[batch, pos, d_model]`` (or already flattened ``[n, d]``)
computed on the *same* prompts for both models; rows (prompt × position) are the paired samples.

Which measure to trust for what:

* :func:`positional_cosine`: the two MLPs write the same vector at the same token. Needs the same ``d_model``
  basis (true for a student initialised from its teacher, as DistilGPT2 was), not invariant to any rotation.
* :func:`subspace_similarity`: the study's number, ``|mean|`` of the ``k × k`` cosines between the top-``k``
  singular vectors. It depends on the arbitrary sign of each singular vector and on how the vectors are ordered
  within a subspace; a tensor compared with itself scores ``1/k``, not 1 (only the diagonal is 1).
* :func:`principal_angle_similarity`: whether the top-``k`` subspaces coincide, invariant to signs, to rotations
  within the subspace and to any orthogonal change of coordinates applied to both; 1 for identical subspaces.
* :func:`cca_similarity`: whether one output is a linear function of the other, whatever the basis: invariant to
  any invertible linear map applied to either side; 1 for linearly related outputs. Average all canonical
  correlations (the default): the top few are 1 for any two layers on task prompts.
* :func:`merge_test`: held-out R² of the student MLP's output from one teacher MLP versus from two, as a weighted
  sum in the shared residual basis; a merge is claimed only above a stated margin.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..core.components import Component, Site, check_layer_map, pair_label, student_layer_map
from ..core.records import Record
from ..models.adapters import ModelAdapter

__all__ = [
    "mlp_outputs", "positional_cosine", "CosineSummary", "cosine_summary", "top_singular_vectors", "subspace_cosines",
    "subspace_similarity", "principal_angle_similarity", "study_similarity_of_bases", "principal_similarity_of_bases",
    "lapack_singular_vectors", "column_signs", "canonical_correlations", "cca_similarity", "merge_r2",
    "MergeTestResult", "merge_test", "logit_diff_contributions", "all_pairs_similarity", "LayerCorrespondence",
    "layer_correspondences",
    "DEFAULT_MERGE_MARGIN",
]

#: How much more held-out R² a pair of teacher MLPs must give than the better single one for :func:`merge_test` to
#: flag a merge (absolute R², i.e. 5 percentage points of the student's output variance).
DEFAULT_MERGE_MARGIN = 0.05


# --------------------------------------------------------------------------------------------- outputs
def mlp_outputs(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"],
                batch_size: int = 256) -> Float[Tensor, "layer batch pos d_model"]:
    """Every MLP's output on the prompts, on the CPU (notebook 04)."""
    sites = [Site("mlp_out", l) for l in range(adapter.n_layers)]
    acts = adapter.capture_unpatched(tokens, sites, batch_size)
    return torch.stack([acts[s] for s in sites])


def _rows(x: Tensor, name: str) -> Tensor:
    """``[..., d]`` → ``[n, d]`` float64."""
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must be [batch, pos, d_model] or [n, d], got shape {tuple(x.shape)}")
    return x.reshape(-1, x.shape[-1]).double()


def _same_rows(a: Tensor, b: Tensor, what: str) -> tuple[Tensor, Tensor]:
    ra, rb = _rows(a, "A"), _rows(b, "B")
    if ra.shape[0] != rb.shape[0]:
        raise ValueError(f"{what} pairs samples row by row, but A has {ra.shape[0]} rows (prompt x position) and B "
                         f"{rb.shape[0]}: compute both models' outputs on the same tokens")
    return ra, rb


# --------------------------------------------------------------------------------------------- cosine
def positional_cosine(a: Float[Tensor, "batch pos d_model"],
                      b: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos"]:
    """Cosine between two MLPs' outputs at each prompt and position (notebook 04; the study's merging figure).

    Raises:
        ValueError: if the shapes differ (both must be ``[batch, pos, d_model]`` on the same tokens and, for the
            cosine to mean anything, in the same residual basis).
    """
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"positional_cosine needs two [batch, pos, d_model] tensors of the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}: run both models on the same tokens (and the "
                         "cosine only makes sense for models sharing d_model and its basis)")
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1, eps=1e-12).float()


@dataclass(frozen=True, eq=False)
class CosineSummary(Record):
    """A summary of the per-position cosine of two MLPs' outputs (:func:`cosine_summary`; reads as a mapping of its
    fields). Every value is a cosine (unitless, in [−1, 1]) except ``n_prompts``.

    Attributes:
        all: the mean over every prompt and position; ``token0`` over position 0 alone; ``other`` over positions 1….
        by_position: the mean at each position, over prompts (one float per position).
        prompt_std: the standard deviation (ddof = 0; 0 for one prompt) over prompts of each prompt's mean over its
            positions; ``prompt_p05``, ``prompt_p50``, ``prompt_p95``: the 5th, 50th and 95th percentiles of it.
        n_prompts: prompts summarised.
    """

    all: float
    token0: float
    other: float
    by_position: list[float]
    prompt_std: float
    prompt_p05: float
    prompt_p50: float
    prompt_p95: float
    n_prompts: int


def cosine_summary(cos: Float[Tensor, "batch pos"]) -> CosineSummary:
    """Summary of :func:`positional_cosine` (notebook 04), as the study reported it plus its spread.

    Returns:
        :class:`CosineSummary`: ``all``, ``token0``, ``other``: mean over all tokens, over position 0, over
        positions 1…; ``by_position``: the mean at each position (list); and the spread across prompts of each
        prompt's mean over all tokens: ``prompt_std``, ``prompt_p05``, ``prompt_p50``, ``prompt_p95``;
        ``n_prompts``.

    Raises:
        ValueError: unless ``cos`` is ``[batch, pos]`` with at least 2 positions.
    """
    c = torch.as_tensor(cos).double()
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"cos must be [batch, pos] with pos >= 2, got {tuple(c.shape)}")
    per_prompt = c.mean(dim=1)
    q = torch.quantile(per_prompt, torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64))
    return CosineSummary(
        all=float(c.mean()), token0=float(c[:, 0].mean()), other=float(c[:, 1:].mean()),
        by_position=[float(v) for v in c.mean(dim=0)],
        prompt_std=float(per_prompt.std(unbiased=False)) if c.shape[0] > 1 else 0.0,
        prompt_p05=float(q[0]), prompt_p50=float(q[1]), prompt_p95=float(q[2]),
        n_prompts=int(c.shape[0]),
    )


# --------------------------------------------------------------------------------------------- subspaces
def top_singular_vectors(x: Tensor, k: int = 3) -> Float[Tensor, "d k"]:
    """Top-``k`` right singular vectors of the rows of ``x`` (flattened to ``[n, d]``), as columns (notebook 04).

    They are the top eigenvectors of the *uncentred* second-moment matrix ``XᵀX / n`` (the study's "covariance";
    an MLP's mean output therefore usually dominates the first one). Each vector's sign is fixed so that its
    largest-magnitude coordinate is positive (the SVD's own sign is arbitrary).

    Raises:
        ValueError: unless ``1 <= k <= min(n, d)``.
    """
    r = _rows(x, "x")
    if not 1 <= k <= min(r.shape):
        raise ValueError(f"k={k} must be between 1 and min(n, d) = {min(r.shape)}")
    # the eigenvectors of the d × d matrix XᵀX are the right singular vectors of X; far cheaper than an SVD of the
    # n × d matrix (n = prompts × positions), which multithreaded LAPACK also runs slowly on small matrices
    _, vecs = torch.linalg.eigh(r.T @ r)
    v = vecs[:, -k:].flip(-1).clone()
    pivot = v[v.abs().argmax(dim=0), torch.arange(k)]
    return v * torch.where(pivot < 0, -1.0, 1.0).to(v.dtype)


def lapack_singular_vectors(x: Tensor, k: int = 3) -> Float[Tensor, "d k"]:
    """The top-``k`` vectors as the study's code takes them (``study-spec.md`` §4 step 4): the first ``k`` columns of
    ``U`` from ``scipy.linalg.svd`` of the float32 uncentred second moment ``C = XᵀX / n``, **with the signs LAPACK
    returns**. They span the same directions as :func:`top_singular_vectors`; only the signs differ, and those are
    a convention of the LAPACK build (they may differ between machines): use them to show how much a result depends
    on that convention (:func:`column_signs`), never for a stored result.

    Raises:
        ValueError: unless ``1 <= k <= min(n, d)``.
    """
    from scipy.linalg import svd

    r = _rows(x, "x").float()
    if not 1 <= k <= min(r.shape):
        raise ValueError(f"k={k} must be between 1 and min(n, d) = {min(r.shape)}")
    c = ((r.T @ r) / r.shape[0]).numpy()
    u, _, _ = svd(c)
    return torch.from_numpy(np.ascontiguousarray(u[:, :k])).double()


def column_signs(reference: Float[Tensor, "d k"], other: Float[Tensor, "d k"]) -> Float[Tensor, "k"]:
    """``±1`` per column: the sign that turns each column of ``reference`` into the matching column of ``other``
    (``sign(⟨reference_i, other_i⟩)``, ``+1`` on a tie), e.g. LAPACK's signs relative to
    :func:`top_singular_vectors`' convention.

    Raises:
        ValueError: if the two bases have different shapes.
    """
    if reference.shape != other.shape:
        raise ValueError(f"the bases must have one shape, got {tuple(reference.shape)} and {tuple(other.shape)}")
    dots = (reference.double() * other.double()).sum(dim=0)
    return torch.where(dots < 0, -1.0, 1.0).double()


def _same_space(ua: Tensor, ub: Tensor) -> None:
    if ua.shape[0] != ub.shape[0]:
        raise ValueError(f"A has d={ua.shape[0]} features and B d={ub.shape[0]}: singular vectors can only be compared "
                         "in a shared space (models of one width); use cca_similarity for different widths")


def subspace_cosines(a: Tensor, b: Tensor, k: int = 3) -> Float[Tensor, "k k"]:
    """Cosines between the top-``k`` singular vectors of ``a`` (rows) and of ``b`` (columns) (notebook 04).

    Raises:
        ValueError: if ``a`` and ``b`` have different feature sizes (the cosine needs a shared ``d``).
    """
    ua, ub = top_singular_vectors(a, k), top_singular_vectors(b, k)
    _same_space(ua, ub)
    return (ua.T @ ub).float()


def study_similarity_of_bases(ua: Float[Tensor, "d k"], ub: Float[Tensor, "d k"]) -> float:
    """:func:`subspace_similarity` from precomputed :func:`top_singular_vectors` (a noise sweep reuses the
    teacher's): ``|mean|`` of the ``k × k`` cosine matrix ``U_Aᵀ U_B``."""
    _same_space(ua, ub)
    return abs(float((ua.T @ ub).float().double().mean()))


def principal_similarity_of_bases(ua: Float[Tensor, "d k"], ub: Float[Tensor, "d k"], sqrt: bool = False) -> float:
    """:func:`principal_angle_similarity` from precomputed :func:`top_singular_vectors`: mean ``cos²`` of the
    principal angles, the squared singular values of ``U_Aᵀ U_B``."""
    _same_space(ua, ub)
    s = torch.linalg.svdvals(ua.T @ ub).clamp(max=1.0)
    v = float((s ** 2).mean())
    return v ** 0.5 if sqrt else v


def subspace_similarity(a: Tensor, b: Tensor, k: int = 3) -> float:
    """The study's MLP similarity: ``|mean|`` of the ``k × k`` cosine matrix of the top-``k`` singular vectors
    (notebook 04).

    Exactly: ``U_A, U_B`` = :func:`top_singular_vectors` of each output (uncentred ``XᵀX/n``, X flattened over
    batch × pos), ``C = U_Aᵀ U_B``, score ``|mean_ij C_ij|``. Properties (tested): it is at most 1; a tensor
    compared with itself scores ``1/k`` (``C`` is the identity), not 1; it changes when a singular vector's sign
    flips or when the data are rotated within their top-``k`` subspace, so it is **not** a subspace measure. Use
    :func:`principal_angle_similarity` for that.
    """
    return study_similarity_of_bases(top_singular_vectors(a, k), top_singular_vectors(b, k))


def principal_angle_similarity(a: Tensor, b: Tensor, k: int = 3, sqrt: bool = False) -> float:
    """Overlap of the top-``k`` singular subspaces: mean ``cos²`` of their principal angles (notebook 04).

    ``cos θ_i`` are the singular values of ``U_Aᵀ U_B`` (orthonormal bases of the two subspaces), so the score is
    ``‖U_Aᵀ U_B‖_F² / k``: 1 for the same subspace, 0 for orthogonal ones, about ``k/d`` for random ones. It is
    invariant to the signs and order of the basis vectors, to rotations within either subspace and to any
    orthogonal change of coordinates applied to both outputs. ``sqrt=True`` returns its square root (the RMS
    cosine).
    """
    return principal_similarity_of_bases(top_singular_vectors(a, k), top_singular_vectors(b, k), sqrt)


# --------------------------------------------------------------------------------------------- CCA
def _basis(x: Tensor, pca_dim: int | None, rtol: float = 1e-6) -> Tensor:
    """Orthonormal basis (in sample space) of the centred columns of x, after an optional PCA truncation."""
    xc = x - x.mean(dim=0, keepdim=True)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)              # LAPACK's SVD of a tall matrix is much slower multithreaded on CPU
    try:
        u, s, _ = torch.linalg.svd(xc, full_matrices=False)
    finally:
        torch.set_num_threads(n_threads)
    keep = int((s > rtol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    if pca_dim is not None:
        keep = min(keep, int(pca_dim))
    return u[:, :keep]


def canonical_correlations(a: Tensor, b: Tensor, pca_dim: int | None = None) -> Float[Tensor, "m"]:
    """All canonical correlations between two paired sets of outputs, largest first (notebook 04).

    Both sets are centred; each is reduced to its top ``pca_dim`` principal components if given (SVCCA's step,
    needed when ``d`` is large against the number of samples), else to its numerical rank. The correlations are
    the singular values of ``Q_Aᵀ Q_B`` for orthonormal bases ``Q`` of the two column spaces.

    Raises:
        ValueError: if the rows differ, or if the two reduced dimensions add up to ``n - 1`` or more: then the two
            column spaces must intersect and CCA finds correlations of 1 for any data; pass a smaller ``pca_dim``
            or more prompts.
    """
    ra, rb = _same_rows(a, b, "CCA")
    qa, qb = _basis(ra, pca_dim), _basis(rb, pca_dim)
    n = ra.shape[0]
    if qa.shape[1] + qb.shape[1] >= n - 1:
        raise ValueError(f"CCA is degenerate here: {qa.shape[1]} + {qb.shape[1]} dimensions for {n} samples (>= n-1) "
                         "make some canonical correlations 1 for any data; pass pca_dim (e.g. "
                         f"{max(1, (n - 2) // 4)}) or use more prompts")
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        raise ValueError("one of the sets is constant (rank 0 after centring): CCA is undefined")
    return torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0).float()


def cca_similarity(a: Tensor, b: Tensor, k: int | None = None, pca_dim: int | None = None) -> float:
    """Mean of the top-``k`` canonical correlations (all of them if ``k`` is ``None``) (notebook 04).

    1 when one output is a linear function of the other (e.g. ``B = A M + c`` with ``M`` invertible), well below 1
    for unrelated outputs (independent Gaussian data, 2300 × 128: top-3 ≈ 0.44, all ≈ 0.20); see
    :func:`canonical_correlations`. On task prompts a small ``k`` saturates: the top canonical directions are
    token/position features every layer encodes linearly, so the top-3 mean is 1.000 for every teacher/student layer
    pair of the offline pair. The mean over all correlations (the default, SVCCA's summary), optionally after
    ``pca_dim`` (10–20 works), is the one that tells layers apart.

    Raises:
        ValueError: for ``k`` larger than the number of canonical correlations, and as
            :func:`canonical_correlations`.
    """
    corr = canonical_correlations(a, b, pca_dim)
    if k is None:
        return float(corr.double().mean())
    if not 1 <= k <= corr.numel():
        raise ValueError(f"k={k} but there are only {corr.numel()} canonical correlations (the smaller reduced "
                         "dimension); lower k or raise pca_dim")
    return float(corr[:k].double().mean())


# --------------------------------------------------------------------------------------------- merging
def _split(n_prompts: int, train_frac: float, seed: int) -> tuple[Tensor, Tensor]:
    if not 0 < train_frac < 1:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    perm = torch.randperm(n_prompts, generator=torch.Generator().manual_seed(seed))
    n_train = int(round(train_frac * n_prompts))
    if n_train < 1 or n_train >= n_prompts:
        raise ValueError(f"{n_prompts} prompts cannot be split {train_frac:.2f}/{1 - train_frac:.2f}: use more prompts")
    return perm[:n_train], perm[n_train:]


def merge_r2(student_out: Float[Tensor, "batch pos d_model"], teacher_outs: Sequence[Tensor],
             fit: str = "scalar", train_frac: float = 0.5, seed: int = 0, ridge: float = 1e-6) -> float:
    """Held-out R² of explaining a student MLP's output by teacher MLP output(s) (notebook 04).

    The map is fitted by least squares on a random ``train_frac`` of the *prompts* (all their positions) and
    scored on the other prompts: ``R² = 1 − Σ‖Y − Ŷ‖² / Σ‖Y − mean(Y)‖²`` over all held-out rows and output
    dimensions (the share of the student's output variance explained). Two map families:

    * ``fit="scalar"`` (default): ``Ŷ = Σ_m α_m X_m + c``, one number per teacher MLP plus an offset vector, in the
      shared residual basis (the student is initialised from the teacher, so its MLPs write in the teacher's
      basis). "S4 merges T9 and T10" then reads: S4's output ≈ α·T9 + β·T10.
    * ``fit="linear"``: ``Ŷ = [X_1 X_2 …] W + c``, any linear map of the concatenated outputs (ridge ``ridge`` ×
      the mean eigenvalue of ``XᵀX``, only to stabilise the solve). Beware: on task prompts the MLP outputs are
      low-dimensional functions of the same few token/position features, so *any* teacher layer explains *any*
      student layer this way (R² ≥ 0.98 for every layer pair of the offline pair); it cannot single out a merge.

    Args:
        student_out: the student MLP's output ``[batch, pos, d]``.
        teacher_outs: one or more teacher MLP outputs of the same batch and positions.
        fit: ``"scalar"`` or ``"linear"``.
        train_frac, seed: the prompt split.
        ridge: relative ridge strength (``"linear"`` only).

    Raises:
        ValueError: on an empty ``teacher_outs``, mismatched shapes, an unknown ``fit`` or too few prompts.
    """
    y = torch.as_tensor(student_out).double()
    if y.ndim != 3:
        raise ValueError(f"student_out must be [batch, pos, d_model], got {tuple(y.shape)}")
    if len(teacher_outs) == 0:
        raise ValueError("teacher_outs is empty: pass a list of one or more teacher MLP outputs")
    xs = [torch.as_tensor(t).double() for t in teacher_outs]
    for i, t in enumerate(xs):
        if t.ndim != 3 or t.shape[:2] != y.shape[:2]:
            raise ValueError(f"teacher_outs[{i}] has shape {tuple(t.shape)} but the student's is {tuple(y.shape)}: "
                             "all must be [batch, pos, d_model] on the same prompts")
        if fit == "scalar" and t.shape[-1] != y.shape[-1]:
            raise ValueError(f"fit='scalar' needs the same d_model for teacher and student ({t.shape[-1]} vs "
                             f"{y.shape[-1]}); use fit='linear' for different widths")
    if fit not in ("scalar", "linear"):
        raise ValueError(f"unknown fit {fit!r}: use 'scalar' (weighted sum in the shared basis) or 'linear'")
    tr, te = _split(y.shape[0], train_frac, seed)
    d_out = y.shape[-1]
    ytr, yte = y[tr].reshape(-1, d_out), y[te].reshape(-1, d_out)
    my = ytr.mean(0, keepdim=True)
    xtr = [x[tr].reshape(-1, x.shape[-1]) for x in xs]
    xte = [x[te].reshape(-1, x.shape[-1]) for x in xs]
    mxs = [x.mean(0, keepdim=True) for x in xtr]
    if fit == "scalar":
        design = torch.stack([(x - m).reshape(-1) for x, m in zip(xtr, mxs)], dim=1)   # [rows*d, n_teachers]
        alpha = torch.linalg.lstsq(design, (ytr - my).reshape(-1, 1)).solution[:, 0]
        pred = my + sum(a * (x - m) for a, x, m in zip(alpha, xte, mxs))
    else:
        xc = torch.cat([x - m for x, m in zip(xtr, mxs)], dim=-1)
        gram = xc.T @ xc
        lam = ridge * float(torch.diagonal(gram).mean())
        w = torch.linalg.solve(gram + lam * torch.eye(gram.shape[0], dtype=gram.dtype), xc.T @ (ytr - my))
        pred = torch.cat([x - m for x, m in zip(xte, mxs)], dim=-1) @ w + my
    ss_tot = float(((yte - yte.mean(0, keepdim=True)) ** 2).sum())
    if ss_tot == 0:
        raise ValueError("the student's held-out output is constant: R² is undefined")
    return 1.0 - float(((yte - pred) ** 2).sum()) / ss_tot


@dataclass(frozen=True, eq=False)
class MergeTestResult(Record):
    """The merge test for one pair of teacher MLPs (a row of :func:`merge_test`; reads as a mapping of its fields).
    Every R² is held-out (unitless; 1 explains the student MLP's output fully, 0 no better than its mean, and it can
    be negative).

    Attributes:
        teachers: the two teacher layers ``(i, j)``.
        label: ``"T{i}+T{j}"``.
        r2_first, r2_second: R² of the student MLP's output from teacher MLP ``i`` alone and from ``j`` alone.
        r2_pair: R² from both together.
        gain: ``r2_pair − max(r2_first, r2_second)``, what the pair adds to the better member.
        claim: whether a merge is claimed (``gain ≥ margin`` and ``r2_pair > 0``).
    """

    teachers: tuple[int, int]
    label: str
    r2_first: float
    r2_second: float
    r2_pair: float
    gain: float
    claim: bool


def merge_test(student_out: Float[Tensor, "batch pos d_model"],
               teacher_outs: Sequence[Tensor] | Float[Tensor, "layer batch pos d_model"],
               pairs: Sequence[tuple[int, int]] | None = None, margin: float = DEFAULT_MERGE_MARGIN,
               fit: str = "scalar", train_frac: float = 0.5, seed: int = 0) -> list[MergeTestResult]:
    """Does a student MLP do the work of two teacher MLPs together? (notebook 04; the study's merging claim)

    For each teacher pair ``(i, j)`` (default: every adjacent pair ``(i, i+1)``), :func:`merge_r2` (with ``fit``)
    from ``i`` alone, from ``j`` alone and from both. ``claim`` is true only when the pair explains clearly more of
    the student's held-out output than the better single MLP: ``r2_pair − max(r2_first, r2_second) >= margin``
    (default :data:`DEFAULT_MERGE_MARGIN` = 0.05, five points of explained variance) and ``r2_pair > 0``. Because R²
    is measured on held-out prompts, extra regressors alone cannot buy the margin. Use the default
    ``fit="scalar"``: with ``fit="linear"`` every layer explains every other one (see :func:`merge_r2`), so gains
    stay tiny and no claim can be made either way.

    Returns:
        one :class:`MergeTestResult` per pair: ``teachers`` ``(i, j)``, ``label`` ``"T{i}+T{j}"``, ``r2_first``,
        ``r2_second``, ``r2_pair``, ``gain``, ``claim``.

    Raises:
        ValueError: for a pair index outside ``teacher_outs``.
    """
    outs = list(teacher_outs)
    if pairs is None:
        pairs = [(i, i + 1) for i in range(len(outs) - 1)]
    rows = []
    cache: dict[int, float] = {}
    for i, j in pairs:
        if not (0 <= i < len(outs) and 0 <= j < len(outs)):
            raise ValueError(f"pair ({i}, {j}) is outside the {len(outs)} teacher MLPs given")
        for m in (i, j):
            if m not in cache:
                cache[m] = merge_r2(student_out, [outs[m]], fit, train_frac, seed)
        both = merge_r2(student_out, [outs[i], outs[j]], fit, train_frac, seed)
        gain = both - max(cache[i], cache[j])
        rows.append(MergeTestResult(teachers=(i, j), label=f"T{i}+T{j}", r2_first=cache[i], r2_second=cache[j],
                                    r2_pair=both, gain=gain, claim=bool(gain >= margin and both > 0)))
    return rows


# --------------------------------------------------------------------------------------------- attribution
def logit_diff_contributions(adapter: ModelAdapter, tokens: Int[Tensor, "batch pos"],
                             correct: Int[Tensor, "batch"] | int, incorrect: Int[Tensor, "batch"] | int,
                             batch_size: int = 256) -> Float[Tensor, "layer pos"]:
    """Each MLP's direct contribution to the logit difference, per position, averaged over prompts (notebook 04).

    For prompt ``b``, position ``p`` and layer ``l``: ``LN(mlp_out[l, b, p]) · (W_U[:, correct_b] − W_U[:,
    incorrect_b])``, where ``LN`` centres the vector and divides by the final LayerNorm's scale at ``(b, p)``
    (``adapter.direct_logits``; in compatibility mode the LN weights are folded into ``W_U``). At the final position
    these terms, together with the heads', embeddings' and biases', add up to the model's Δl; at other positions
    they read the same direction as a probe. Decoders only (an encoder's output head is not linear).

    Raises:
        ValueError: if ``correct``/``incorrect`` do not have one id per prompt.
        FamilyError: for an encoder.
    """
    adapter.require("decoder", "direct logit attribution")
    if not isinstance(tokens, Tensor) or tokens.ndim != 2:
        raise ValueError("tokens must be an integer tensor [batch, pos]")
    n = tokens.shape[0]
    c, i = (torch.as_tensor(x).long().reshape(-1) for x in (correct, incorrect))
    c, i = (x.expand(n) if x.numel() == 1 else x for x in (c, i))
    if c.shape != (n,) or i.shape != (n,):
        raise ValueError(f"correct and incorrect need one token id per prompt ({n}), got {tuple(c.shape)} and "
                         f"{tuple(i.shape)}: use PromptSet.answer_ids(tokenizer)")
    sites = [Site("mlp_out", l) for l in range(adapter.n_layers)]
    acts = adapter.capture_unpatched(tokens, sites + [Site("resid_final")], batch_size)
    stack = torch.stack([acts[s] for s in sites]).double()                                # [layer, b, pos, d]
    with torch.no_grad():
        both = adapter.direct_logits(stack.to(adapter.device), acts[Site("resid_final")].double().to(adapter.device),
                                     torch.stack([c, i], -1))                               # [layer, b, pos, 2]
    return (both[..., 0] - both[..., 1]).mean(1).float().cpu()


def all_pairs_similarity(teacher_outs: Sequence[Tensor] | Tensor, student_outs: Sequence[Tensor] | Tensor,
                         fn: Callable[[Tensor, Tensor], float]) -> Float[Tensor, "t_layer s_layer"]:
    """``fn(teacher_outs[i], student_outs[j])`` for every teacher layer ``i`` and student layer ``j`` (notebook 04).

    ``fn`` is any of this module's measures taking two outputs and returning a float (``subspace_similarity``,
    ``principal_angle_similarity``, ``cca_similarity``, or e.g. ``lambda a, b: cosine_summary(positional_cosine(a,
    b))["all"]``).
    """
    t, s = list(teacher_outs), list(student_outs)
    return torch.tensor([[float(fn(ti, sj)) for sj in s] for ti in t])


@dataclass(frozen=True, eq=False)
class LayerCorrespondence(Record):
    """A teacher/student MLP pair worth comparing (a row of :func:`layer_correspondences`; reads as a mapping of its
    fields).

    Attributes:
        teacher, student: the teacher's and the student's layer indices.
        kind: ``"init"`` when the student layer was initialised from this teacher block, ``"dropped"`` when the
            block was dropped between the student's source block and the next one.
        label: the pair's label, e.g. ``"T9/S4"``.
    """

    teacher: int
    student: int
    kind: str
    label: str


def layer_correspondences(n_teacher_layers: int, n_student_layers: int,
                          layer_map: Sequence[int] | None = None) -> list[LayerCorrespondence]:
    """The teacher/student MLP pairs worth comparing, from the student's initialisation (notebook 04).

    DistilGPT2-style students copy teacher blocks ``layer_map`` (default
    :func:`dcirc_utils.core.components.student_layer_map`: ``[0, 2, 4, 7, 9, 11]`` for 12 → 6, ``[0, 2, 5]`` for
    6 → 3).
    Student layer ``s`` is paired with the block it copies (``kind="init"``) and with every teacher block dropped
    between that block and the next copied one (``kind="dropped"``): the blocks whose work, if anywhere, should
    have moved into ``s``. For 12 → 6 this yields exactly the study's pairs T7/S3 (init), T8/S3 (dropped), T9/S4
    (init), T10/S4 (dropped), T11/S5 (init), besides the earlier layers.

    Returns:
        One :class:`LayerCorrespondence` (``teacher``, ``student``, ``kind``, ``label``) per pair, ordered by
        student then teacher layer; ``label`` is ``"T9/S4"``.

    Raises:
        ValueError: if ``layer_map`` does not have one increasing teacher index per student layer.
    """
    if layer_map is None:
        layer_map = student_layer_map(n_teacher_layers, n_student_layers)
    lm = check_layer_map(layer_map, n_teacher_layers, n_student_layers)
    rows = []
    for s, t0 in enumerate(lm):
        t_end = lm[s + 1] if s + 1 < len(lm) else n_teacher_layers
        for t in range(t0, t_end):
            rows.append(LayerCorrespondence(teacher=t, student=s, kind="init" if t == t0 else "dropped",
                                            label=pair_label(Component(t), Component(s))))
    return rows
