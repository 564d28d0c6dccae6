"""Every figure the notebooks draw is readable from the back of a room, as a notebook shows it (issue 25).

Each figure function is drawn the way its notebook cell calls it, with small synthetic inputs of the real shapes (a
12 × 12 teacher, a 6 × 12 student, 24 prompt tokens), under the notebooks' rcParams, and checked by
``report.readability.figure_readability_problems``: every text ≥ 10 pt at the notebook's display width, a colour bar
for every heatmap, bars from zero unless the axis is marked as cut. The checker itself is tested on deliberately bad
figures. The figures of the nine cells issue 25 names get a test of what was fixed in each.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dcirc_utils.core.components import Component  # noqa: E402
from dcirc_utils.methods.brittleness import SUBSTANTIVE_DROP_PP, SensitivityRow  # noqa: E402
from dcirc_utils.report import plots  # noqa: E402
from dcirc_utils.report.plots._style import _text_extent  # noqa: E402
from dcirc_utils.report.readability import (NOTEBOOK_RC, display_width, drawn_texts,  # noqa: E402
                                            figure_readability_problems, mark_cut_axis)

TOKENS = ["BOS", "Note", " done", " in", " 6", ".", " House", " done", " in", " 7", ".", " Hill", " done", " in",
          " 8", ".", " Desk", " done", " in", " 9", ".", " Bed", " done", " in"]


@pytest.fixture(autouse=True)
def notebook_rc():
    """The notebooks' rcParams (``setup_notebook`` applies the same, with global warning filters this avoids)."""
    with matplotlib.rc_context(NOTEBOOK_RC):
        yield
    plt.close("all")


# --------------------------------------------------------------------------------------------- synthetic inputs
def _rng(seed: int = 0):
    return np.random.default_rng(seed)


def drop_grids(seed: int = 0) -> dict[str, tuple]:
    """Full-model drops like notebook 02's: heads within a few points, head 0.3 and the MLPs of −50 to −103."""
    rng = _rng(seed)
    out = {}
    for name, n_layers, big_mlps in (("small teacher", 12, {0: -102.7, 7: -52.7, 8: -80.0, 9: -59.1, 6: -20.0}),
                                     ("small student", 6, {0: -98.7, 3: -90.5, 4: -78.8, 5: -30.0, 2: -12.0})):
        heads = np.round(rng.normal(-0.5, 1.2, (n_layers, 12)), 2)
        heads[0, 3] = -96.9 if n_layers == 12 else -91.6
        heads[min(7, n_layers - 1), 0] = -8.5
        mlps = np.round(rng.normal(-1.0, 2.0, n_layers), 2)
        for layer, v in big_mlps.items():
            mlps[layer] = v
        out[name] = (heads, mlps)
    return out


def position_impacts(seed: int = 1) -> dict[str, tuple]:
    """Notebook 07's position-zeroing impacts (layer × position, % of clean Δl lost; no MLP column)."""
    rng = _rng(seed)
    out = {}
    for name, n_layers in (("bert-small teacher", 12), ("bert-small student", 6)):
        m = rng.normal(0.0, 1.0, (n_layers, 12))
        m[:, 4] += 6.0
        m[:, 9] += np.linspace(-5, 18, n_layers)
        out[name] = (m, None)
    return out


def mean_patterns(n: int = 6, seed: int = 2) -> dict[str, np.ndarray]:
    """Batch-mean causal attention patterns [24, 24]: most weight on BOS, some on the previous number."""
    rng = _rng(seed)
    q = len(TOKENS)
    out = {}
    for k, name in enumerate(["T 0.1", "T 3.11", "T 5.6", "T 7.0", "T 8.3", "T 10.1", "T 11.9", "T 6.6"][:n]):
        m = np.tril(rng.random((q, q)) ** 3)
        m[:, 0] += 2.0 + k
        for i in range(5, q):
            m[i, i - 5] += 1.5 * (k % 3)
        out[name] = m / m.sum(axis=1, keepdims=True)
    return out


def circuit(n_layers: int = 12, n_heads: int = 12):
    """A teacher circuit like notebook 02's (35 heads, 9 MLPs) and its 60 strongest edges with scores."""
    from dcirc_utils.methods.discovery import Edge
    names = ("0.1 0.3 1.6 2.5 2.8 2.9 3.11 4.8 4.9 4.10 5.3 5.4 5.5 5.6 5.8 6.6 6.7 6.8 6.10 6.11 7.0 7.3 7.4 7.6 "
             "8.0 8.2 8.3 9.1 9.6 9.9 10.1 10.7 11.5 11.8 11.9").split()
    comps = [Component(int(a), int(b)) for a, b in (x.split(".") for x in names)]
    comps += [Component(layer, -1) for layer in (0, 2, 4, 5, 6, 7, 8, 9, 10)]
    comps = [c for c in comps if c.layer < n_layers and c.head < n_heads]
    rng = _rng(3)
    edges, scores = [], {}
    kinds = ["k", "v", "mlp_in", "resid"]
    while len(edges) < 60:
        s, r = comps[int(rng.integers(len(comps)))], comps[int(rng.integers(len(comps)))]
        kind = kinds[int(rng.integers(4))]
        if kind == "resid":
            e = Edge(s, None, "resid")
        elif r.layer <= s.layer or (kind == "mlp_in") != (r.head < 0):
            continue
        else:
            e = Edge(s, r, kind)
        if e not in scores:
            edges.append(e)
            scores[e] = float(rng.uniform(0.0, 0.95))
    return comps, edges, scores


def cosine_series() -> dict[str, list[float]]:
    """Notebook 04's twelve MLP-pair cosines by position (T0/S0 … T11/S5; odd teacher layers are 'dropped')."""
    rng = _rng(4)
    out = {}
    for t in range(12):
        base = 0.95 - 0.05 * (t % 2) * t / 2
        out[f"T{t}/S{t // 2}"] = list(np.clip(base + rng.normal(0, 0.12 + 0.02 * (t % 2), len(TOKENS)), -0.1, 1.0))
    return out


def sensitivity_rows() -> list[SensitivityRow]:
    """Notebook 05's circuit-removal rows: MLP2/MLP4 flagged and substantive, 2.10/4.10 flagged below the floor."""
    P = Component
    data = [(P(2, -1), P(4, -1), -32.12, -5.83), (P(2, 10), P(4, 10), -2.6, -1.0), (P(3, 3), P(7, 3), -5.12, -2.7),
            (P(4, -1), P(9, -1), -61.41, -41.04), (P(3, 4), P(7, 4), -9.62, -6.49), (P(5, -1), P(10, -1), -28.0, -22.3),
            (P(0, -1), P(0, -1), -81.2, -81.0), (P(3, -1), P(8, -1), -70.9, -54.5), (P(1, 6), P(2, 6), -3.6, -2.5),
            (P(3, 0), P(7, 0), -4.4, -3.0), (P(0, 3), P(0, 3), -2.0, -1.9)]
    rows = []
    for s, t, sd, td in data:
        ratio = abs(sd) / abs(td)
        rows.append(SensitivityRow(s, t, sd, td, ratio, ratio > 2.0))
    return sorted(rows, key=lambda r: -r.ratio)


def alignment_rows() -> list[dict]:
    """Notebook 06's alignment rows: 5 tasks × (2 pairs × 2 recipes), A between 0.87 and 0.97."""
    vals = {"numerals": (0.961, 0.958, 0.909, 0.902, 0.895), "number_words": (0.963, 0.955, 0.906, 0.892, 0.895),
            "ioi": (0.958, 0.911, 0.925, 0.876, 0.9), "qa": (0.957, 0.944, 0.943, 0.927, 0.944),
            "greater_than": (0.95, 0.951, 0.93, 0.912, None)}
    rows = []
    for task, v in vals.items():
        for k, (pair, recipe) in enumerate([("small", "course"), ("small", "study"), ("small-init", "course"),
                                            ("small-init", "study")]):
            rows.append({"task": task, "pair": pair, "recipe": recipe, "A": v[k], "study A": v[4]})
    return rows


def merge_rows() -> list[dict]:
    """Notebook 04's merge test of S4 against the 11 adjacent teacher pairs."""
    first = [0.0, 0.05, 0.04, 0.08, 0.16, 0.2, 0.13, 0.3, 0.41, 0.9, 0.32]
    second = [0.05, 0.04, 0.08, 0.16, 0.2, 0.13, 0.3, 0.41, 0.9, 0.32, 0.19]
    return [{"label": f"T{i}+T{i + 1}", "r2_first": a, "r2_second": b, "r2_pair": max(a, b) + 0.01 * (i % 3),
             "claim": False} for i, (a, b) in enumerate(zip(first, second))]


def robustness_points() -> list[dict]:
    """Notebook 08's points: students of 3, 6 and 9 layers on five tasks, their copies on the numeral task."""
    rng = _rng(5)
    pts = []
    for pair, layers in (("small-s3", 3), ("small", 6), ("small-s9", 9), ("small-s3-init", 3), ("small-init", 6),
                         ("small-s9-init", 9)):
        tasks = ["numerals"] if pair.endswith("init") else ["numerals", "number_words", "ioi", "qa", "greater_than"]
        for task in tasks:
            a = 0.86 + 0.012 * layers + float(rng.normal(0, 0.015))
            pts.append({"pair": pair, "task": task, "student_layers": layers, "distilled": not pair.endswith("init"),
                        "A_course": a, "noise_retained": 0.5 + 0.04 * layers + float(rng.normal(0, 0.05)),
                        "worst_drop": -120 + 4 * layers + float(rng.normal(0, 8)),
                        "student_value": 0.9 if task == "greater_than" else 2 + layers + float(rng.normal(0, 1))})
    return pts


# --------------------------------------------------------------------------------------------- the notebooks' calls
def fig_attention_grid():                                           # 03, cell "MAX_PANELS" (issue 25, figure 1)
    return plots.attention_grid(mean_patterns(6), ncols=3, panel_size=2.8,
                                title="small teacher: 6 of its 35 circuit heads (one in 6, layer order), mean pattern "
                                      "over 100 prompts")


def fig_attention_grid_tokens():                                    # 03, key heads with the prompt's tokens
    p = mean_patterns(2)
    return plots.attention_grid({"teacher 5.6": p["T 0.1"], "student 3.3": p["T 3.11"]}, token_labels=TOKENS,
                                ncols=2, title="key heads, mean over 100 prompts (tick labels: prompt 0)")


def fig_circuit_graph():                                            # 02, circuit graphs (figure 2)
    comps, edges, scores = circuit()
    return plots.circuit_graph(comps, edges, 12, 12, scores=scores,
                               title="small teacher circuit (80 % of Δl; the 60 strongest of 276 kept edges)")


def fig_layer_head_heatmaps():                                      # 02, each component alone (figure 3)
    return plots.layer_head_heatmaps(drop_grids(), title="Score change when one component is mean-ablated",
                                     label="percentage points of the clean Δl", clip_percentile=95)


def fig_layer_head_heatmaps_shared():                               # 05, heatmaps on one scale (figure 3)
    grids = drop_grids()
    lim = plots.clipped_limit([v for h, m in grids.values() for v in list(h.ravel()) + list(m)], 95)
    return plots.layer_head_heatmaps(grids, title="small: drop when a component is removed from the circuit",
                                     label=f"drop (pp of clean Δl)\ncolour clipped at ±{lim:.0f}, the 95th "
                                           "percentile of |drop|", vmin=-lim, vmax=lim)


def fig_by_position():                                              # 04, cosine by position (figure 4)
    series = cosine_series()
    return plots.by_position(series, TOKENS, small_multiples=True, ylabel="cosine",
                             dashed=[k for i, k in enumerate(series) if i % 2], legend_outside=True,
                             title="small: MLP output cosine by position, mean over 100 prompts (dashed: dropped)")


def fig_position_heatmaps():                                        # 07, the study's position ablation (figure 5)
    return plots.layer_head_heatmaps(position_impacts(), cmap="RdBu_r", xlabel="position",
                                     title="The study's ablation: zero one position of a layer's attention output\n"
                                           "(columns are positions 0–11, not heads)",
                                     label="Δl lost when the position is zeroed (% of clean Δl)")


def fig_sensitivity_scatter():                                      # 05, student vs teacher drops (figure 6)
    return plots.sensitivity_scatter(sensitivity_rows(), min_drop=SUBSTANTIVE_DROP_PP, figsize=(6.5, 4.8),
                                     title="small: circuit-removal drops of matched pairs")


def fig_alignment_bars():                                           # 06, alignment per task (figure 7)
    return plots.alignment_bars(alignment_rows(), zoom=False,
                                title="small: alignment A per task, pair and recipe (◆: the study's value)")


def fig_merge_test_bars():                                          # 04, the merging test (figure 8)
    return plots.merge_test_bars(merge_rows(), title="small distilled S4: held-out R² from teacher MLPs", margin=0.05)


def fig_scatter_panels():                                           # 08, A against robustness (figure 9)
    return plots.scatter_panels(robustness_points(), "A_course",
                                {"noise_retained": "Δl kept under noise", "worst_drop": "worst single drop (points)",
                                 "student_value": "student's clean metric"}, group="student_layers", marker="task",
                                group_label="student layers", annotations={"noise_retained": "r = 0.48 [-0.01, 0.81]",
                                                                          "worst_drop": "r = 0.02 [-0.52, 0.56]"},
                                xlabel="A (course recipe)", fit=["noise_retained", "worst_drop"],
                                units="pair",
                                title="A against robustness and against plain performance (one point per student × "
                                      "task)")


def fig_head_scores_grid():                                         # 03, role scores (five roles)
    rng = _rng(6)
    roles = ["numeral detection", "duplicate token", "number mover", "last number", "successor"]
    return plots.head_scores_grid({r: rng.random((12, 12)) ** 3 for r in roles}, vmin=0.0, vmax=1.0,
                                  title="small teacher: role scores per head (layer × head, with BOS)")


def fig_heatmap_annotated():                                        # 04, merge gain (annotated, 6 × 11)
    rng = _rng(7)
    return plots.heatmap(np.round(rng.normal(0, 0.02, (6, 11)), 3), [f"S{s}" for s in range(6)],
                         [f"T{i}+T{i + 1}" for i in range(11)], cmap="RdBu_r", center=0.0, annotate=True,
                         title="small distilled student: merge gain (pair − better member)", xlabel="teacher pair",
                         ylabel="student MLP", colorbar_label="held-out R² gain", figsize=(9, 3.5))


def fig_heatmap_positions():                                        # 04, direct Δl by position (18 × 23)
    rng = _rng(8)
    rows = [f"{r} MLP{i}" for r, n in (("T", 12), ("S", 6)) for i in range(n)]
    return plots.heatmap(rng.normal(0, 1, (18, 23)), rows, TOKENS[1:], cmap="RdBu_r", center=0.0,
                         xlabel="position (tokens of prompt 0)", figsize=(9, 5), colorbar_label="logits",
                         title="small: direct Δl contribution of each MLP by position")


def fig_heatmap_mlp_cosine():                                       # 04, cosine at BOS (12 × 6, annotated)
    rng = _rng(9)
    return plots.heatmap(rng.uniform(-1, 1, (12, 6)), [f"T{i}" for i in range(12)],
                         [f"S{i} (← T{2 * i})" for i in range(6)], cmap="RdBu_r", vmin=-1, vmax=1, annotate=True,
                         title="small: cosine at BOS, teacher MLP × distilled student MLP", xlabel="student MLP",
                         ylabel="teacher MLP", colorbar_label="cosine", figsize=(6, 4.2))


def fig_heatmap_big():                                              # a GPT-2-sized head similarity (72 × 144)
    m = np.tile(np.linspace(0, 1, 144), (72, 1))
    return plots.heatmap(m, [f"S {i}" for i in range(72)], [f"T {i}" for i in range(144)], title="head similarity")


def fig_layer_head_heatmaps_one_model():                             # one model's drops (brittleness docs)
    return plots.layer_head_heatmaps({"small teacher": drop_grids()["small teacher"]}, title="small teacher drops",
                                     label="pp of clean Δl")


def fig_encoder_drops():                                            # 07, full-model drops of the encoder pair
    return plots.layer_head_heatmaps(drop_grids(2), title="bert-small: full-model drop per head and MLP (mean "
                                     "ablation, one scale)", label="drop (points of % clean Δl)")


def fig_encoder_roles():                                            # 07, encoder role scores (three roles)
    rng = _rng(10)
    return plots.head_scores_grid({r: rng.random((12, 12)) for r in ("previous token", "duplicate token",
                                                                     "induction")},
                                  title="bert-small teacher: encoder role scores", vmin=0.0, vmax=1.0)


def fig_grouped_bars():                                             # 00, 01: corpus shares, accuracy per variant
    kinds = ["template family: numerals", "prose (WordNet)", "IOI stories", "QA", "greater-than years",
             "number words"]
    return plots.grouped_bars(kinds, {"share of documents": [30, 25, 15, 10, 10, 10],
                                      "share of tokens": [20, 40, 15, 10, 8, 7]},
                              ylabel="% of the first 20,000 documents", title="What the small corpus is made of",
                              value_format="{:.0f}")


def fig_training_curves():                                          # 00, loss curves
    steps = np.arange(600)
    return plots.training_curves({"teacher: next-token training": {"cross-entropy": np.exp(-steps / 200) * 5 + 1},
                                  "student: distillation": {"loss": np.exp(-steps / 200) * 3 + 0.5,
                                                            "KL at τ": np.exp(-steps / 150) + 0.1,
                                                            "cross-entropy": np.exp(-steps / 200) * 4 + 1.2}})


def fig_logit_diff_hist():                                          # 01, Δl per prompt
    rng = _rng(11)
    return plots.logit_diff_hist({"teacher": rng.normal(9, 2, 100), "student": rng.normal(8, 3, 100)},
                                 title="Δl per prompt on the numeral task (small)", figsize=(7, 3.8))


def fig_grouped_errorbars():                                        # 05, under shift (with an undefined score)
    variants = ["numerals", "number_words", "letters", "spaced", "roman", "reversed"]
    acc = {"teacher": [95, 90, 60, 80, 40, 30], "student": [92, 85, 50, 70, 35, 20]}
    score = {"teacher": [85, 80, 60, 70, 50, 40], "student": [np.nan, 75, 55, 65, 45, 30]}
    rows = [{"variant": v, "model": m, "seed": s, "accuracy": acc[m][i] + 2 * (-1) ** s,
             "circuit_score": score[m][i] + 4 * (-1) ** s} for i, v in enumerate(variants) for m in acc for s in (0, 1)]
    return plots.grouped_errorbars({"accuracy (%)": (rows, "accuracy"),
                                    "circuit score (% of clean Δl)": (rows, "circuit_score")}, x="variant",
                                   hue="model", hlines={"circuit score (% of clean Δl)": 80.0},
                                   missing_label="undefined",
                                   title="small: under shift (mean ± std over 2 prompt sets; dashed: 80 %)")


def fig_exact_vs_estimate():                                        # 02, exact effect vs first-order estimate
    from types import SimpleNamespace
    rng = _rng(12)
    comps = [Component(layer, h) for layer in range(6) for h in range(-1, 12)]
    panels = {}
    for q in ("activation patching (denoising)", "mean ablation", "attribution patching"):
        exact = {c: float(rng.normal(0, 1)) for c in comps}
        approx = {c: exact[c] + float(rng.normal(0, 0.5)) for c in comps}
        panels[q] = SimpleNamespace(exact=exact, approx=approx, circuit=comps[:10], missed=comps[:3], spearman=0.8)
    return plots.exact_vs_estimate(panels, title="small student: exact effect vs its estimate")


def fig_concentration_curve():                                      # 05, cumulative share of influence
    rng = _rng(13)
    return plots.concentration_curve({"small teacher": rng.random(156) ** 4, "small student": rng.random(78) ** 4},
                                     figsize=(6.5, 4.0), title="small: cumulative share of influence")


def fig_noise_curves():                                             # 06, the noisy student
    levels = [0, 0.01, 0.03, 0.1, 0.3, 1.0]
    rows = [{"level": lv, "seed": s, "A": 1 / (1 + 3 * lv) + 0.02 * s * (lv > 0),
             "dl": 9 / (1 + 3 * lv) - 0.2 * s * (lv > 0)} for lv in levels for s in (-1, 0, 1)]
    return plots.noise_curves(rows, {"A": "A", "student's clean Δl": "dl"},
                              fits={"A": lambda x: 1 / (1 + 3 * np.asarray(x))},
                              references={"study: plateau / A(0) = 0.83/0.895": 0.93},
                              title="small: the noisy student, each measure / its σ = 0 value\n"
                                    "(mean ± std over 3 seeds)")


def fig_capacity_lines():                                           # 08, students of 3, 6 and 9 layers
    rows = [{"student_layers": n, "distilled": d, "student_circuit_share": 0.2 + 0.05 * n, "student_gini": 0.5,
             "student_worst_drop": -100 + 5 * n, "A_course": 0.9 + 0.005 * n - 0.1 * (not d)}
            for n in (3, 6, 9) for d in (True, False)]
    return plots.capacity_lines(rows, {"student_circuit_share": "circuit share", "student_gini": "Gini of |drops|",
                                       "student_worst_drop": "worst single drop (points)",
                                       "A_course": "A (course recipe)"},
                                group_labels={True: "distilled", False: "copy before distillation"},
                                title="Students of 3, 6 and 9 layers of one 12-layer teacher (numerals)")


FIGURES = {f.__name__[4:]: f for f in (
    fig_attention_grid, fig_attention_grid_tokens, fig_circuit_graph, fig_layer_head_heatmaps,
    fig_layer_head_heatmaps_shared, fig_by_position, fig_position_heatmaps, fig_sensitivity_scatter,
    fig_alignment_bars, fig_merge_test_bars, fig_scatter_panels, fig_head_scores_grid, fig_heatmap_annotated,
    fig_heatmap_positions, fig_heatmap_mlp_cosine, fig_heatmap_big, fig_layer_head_heatmaps_one_model,
    fig_encoder_drops, fig_encoder_roles, fig_grouped_bars, fig_training_curves, fig_logit_diff_hist,
    fig_grouped_errorbars, fig_exact_vs_estimate, fig_concentration_curve, fig_noise_curves, fig_capacity_lines,
    plots.mean_ablation_diagram, plots.path_patching_diagram)}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_figure_is_readable(name):
    fig = FIGURES[name]()
    try:
        assert figure_readability_problems(fig) == []
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------- the checker
def test_checker_reports_small_text_shrunk_text_bare_heatmap_and_cut_bars():
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1], [0, 1])
    ax.text(0.5, 0.5, "tiny note", fontsize=7)
    problems = figure_readability_problems(fig)
    assert len(problems) == 1 and "'tiny note'" in problems[0] and "7.0 pt" in problems[0]

    wide, ax = plt.subplots(figsize=(14, 3))         # 10-pt ticks of an 11-inch PNG show at about 8 pt
    ax.plot([0, 1], [0, 1])
    assert display_width(wide) > 11
    assert any("'0.0'" in p and "10.0 pt, 8." in p for p in figure_readability_problems(wide))

    bare, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(np.eye(3))
    assert any("no colour bar" in p for p in figure_readability_problems(bare))
    bare.colorbar(ax.images[0], ax=ax)
    assert figure_readability_problems(bare) == []

    mesh, ax = plt.subplots(figsize=(5, 4))
    other = ax.pcolormesh(np.eye(3), vmin=0, vmax=1)
    cax = mesh.add_axes([0.9, 0.1, 0.03, 0.8])
    mesh.colorbar(plt.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 2), cmap="magma"), cax=cax)
    assert any("no colour bar" in p for p in figure_readability_problems(mesh))   # a bar, but not its scale
    mesh.colorbar(other, cax=cax)
    assert not any("no colour bar" in p for p in figure_readability_problems(mesh))

    bars, ax = plt.subplots(figsize=(5, 4))
    ax.bar([0, 1], [0.90, 0.96])
    ax.set_ylim(0.8, 1.0)
    assert any("do not start at zero" in p for p in figure_readability_problems(bars))
    mark_cut_axis(ax)
    assert figure_readability_problems(bars) == []
    assert figure_readability_problems(plt.subplots(figsize=(5, 4))[0]) == []


def test_checker_sees_only_drawn_texts_and_uses_the_png_width():
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.set_title("hidden", fontsize=5)
    a.set_visible(False)
    b.axis("off")
    b.set_xticks([0, 1], ["x", "y"], fontsize=5)
    b.text(0.5, 0.5, "", fontsize=5)
    assert figure_readability_problems(fig) == []
    assert [t for t, _, _ in drawn_texts(fig)] == []
    legend_out, ax = plt.subplots(figsize=(8, 3))    # a legend beside the axes widens the PNG past the figure
    ax.plot([0, 1], label="a long legend entry that sticks out " * 2)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    assert display_width(legend_out) > 9.5
    assert figure_readability_problems(legend_out)


def test_notebook_rcparams_are_the_ones_setup_notebook_applies():
    from pathlib import Path

    import dcirc_utils.studies.notebook as nb
    assert "rcParams.update(NOTEBOOK_RC)" in Path(nb.__file__).read_text()
    assert NOTEBOOK_RC["font.size"] == 11 and NOTEBOOK_RC["figure.dpi"] == 100


# --------------------------------------------------------------------------------------------- what issue 25 fixed
def test_attention_grid_has_one_colour_bar_with_a_stated_square_root_scale():
    fig = fig_attention_grid()
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 6 and len(fig.axes) == 6                  # the colour bar is an inset, not a panel
    assert {type(im.norm).__name__ for im in images} == {"PowerNorm"} and images[0].norm.gamma == 0.5
    bars = [c for ax in fig.axes for c in ax.child_axes if getattr(c, "_colorbar", None)]
    assert len(bars) == 1 and "√weight" in bars[0].get_ylabel()
    assert min(fig.get_size_inches()) >= 5.6                        # 2.8-inch panels, not 1.4
    clipped = plots.attention_grid(mean_patterns(2), ncols=2, clip_percentile=99, gamma=1.0)
    label = [c for ax in clipped.axes for c in ax.child_axes][0].get_ylabel()
    assert "99th percentile" in label and "∝ weight" in label


def test_circuit_graph_labels_are_ten_points_and_apart():
    fig = fig_circuit_graph()
    assert fig.get_size_inches()[0] <= 9.5
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        labels = [t for t in ax.texts if t.get_text()]
        assert labels and {t.get_fontsize() for t in labels} == {10.0}
        boxes = [t.get_window_extent() for t in labels]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_layer_head_heatmaps_clip_at_a_stated_percentile_and_write_the_clipped_values():
    grids = drop_grids()
    fig = fig_layer_head_heatmaps()
    values = np.concatenate([np.concatenate([h.ravel(), m]) for h, m in grids.values()])
    lim = float(np.percentile(np.abs(values), 95))
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert {im.get_clim() for im in images} == {(-lim, lim)}
    written = sorted(t.get_text() for ax in fig.axes for t in ax.texts)
    def fmt(v):                                                      # whole numbers from 10, one decimal below
        return (f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}").replace("-", "−")
    beyond = sorted(fmt(v) for v in values if abs(v) > lim)
    assert written == beyond and "−103" in written
    bar = next(ax._colorbar for ax in fig.axes if getattr(ax, "_colorbar", None))
    assert bar.extend in ("min", "both") and "95th percentile of |value|" in bar.ax.get_ylabel()
    assert plots.clipped_limit(values, 95) == pytest.approx(lim)
    plain = plots.layer_head_heatmaps(grids, label="pp")                  # unclipped: nothing written, no arrow
    assert not any(ax.texts for ax in plain.axes)
    assert next(ax._colorbar for ax in plain.axes if getattr(ax, "_colorbar", None)).extend == "neither"


def test_position_heatmaps_name_their_columns_positions():
    fig = fig_position_heatmaps()
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert panels[-1].get_xlabel() == "position" and "head" not in [ax.get_xlabel() for ax in panels]
    bar = next(ax._colorbar for ax in fig.axes if getattr(ax, "_colorbar", None))
    assert bar.ax.get_ylabel().startswith("Δl lost when the position is zeroed")


def test_by_position_small_multiples_one_line_per_panel_on_shared_axes():
    series = cosine_series()
    fig = fig_by_position()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in panels] == list(series)
    assert all(len([ln for ln in ax.lines if len(ln.get_xdata()) == len(TOKENS)]) == 1 for ax in panels)
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    dashed = {ax.get_title(loc="left") for ax in panels if ax.lines[0].get_linestyle() == "--"}
    assert dashed == {k for i, k in enumerate(series) if i % 2}


def test_sensitivity_scatter_flags_exactly_what_the_rule_flags_inside_data_limits():
    rows = sensitivity_rows()
    fig = fig_sensitivity_scatter()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["MLP2/MLP4"]         # 2.10/4.10: ratio 2.6, but a 2.6-pp drop
    assert any(ln.get_ydata()[0] == SUBSTANTIVE_DROP_PP for ln in ax.lines)          # the floor is drawn
    assert ax.get_ylim()[1] <= 1.1 * max(abs(r.student_drop) for r in rows)
    assert ax.get_xlim()[1] <= 1.1 * max(abs(r.teacher_drop) for r in rows)
    assert max(np.max(ln.get_ydata()) for ln in ax.lines) <= ax.get_ylim()[1] + 1e-9
    low = plots.sensitivity_scatter(rows, min_drop=2.0)                # a lower floor flags the small pair too
    assert sorted(t.get_text() for t in low.axes[0].texts) == ["2.10/4.10", "MLP2/MLP4"]


def test_sensitivity_scatter_labels_of_close_points_do_not_overlap():
    P = Component
    rows = [SensitivityRow(P(1, h), P(2, h), -30.0 - h * 0.4, -6.0 - h * 0.1, 5.0, True) for h in range(5)]
    rows.append(SensitivityRow(P(0, -1), P(0, -1), -80.0, -79.0, 1.01, False))
    ax = plots.sensitivity_scatter(rows, figsize=(6.5, 4.8)).axes[0]
    boxes = [_text_extent(t) for t in ax.texts]                         # the text, not its leader line
    assert len(boxes) == 5
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_alignment_bars_from_zero_or_marked_cut():
    fig = fig_alignment_bars()
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0.0 and "cut" not in ax.get_ylabel()
    assert "0.96" in [t.get_text() for t in ax.texts]               # values written above the bars instead
    zoomed = plots.alignment_bars(alignment_rows())
    assert zoomed.axes[0].get_ylim()[0] > 0 and "cut axis from" in zoomed.axes[0].get_ylabel()
    assert figure_readability_problems(zoomed) == []                 # marked as cut


def test_merge_test_bars_note_is_readable_and_off_the_bars():
    fig = fig_merge_test_bars()
    note = [t for t in fig.axes[0].texts if "merge claimed" in t.get_text()]
    assert len(note) == 1 and note[0].get_fontsize() >= 10
    assert note[0].get_window_extent().y1 < fig.axes[0].get_window_extent().y0   # below the axes


def test_scatter_panels_colour_by_depth_and_shape_by_task():
    fig = fig_scatter_panels()
    ax = fig.axes[0]
    pts = robustness_points()
    colours: dict[int, set] = {}
    for coll in ax.collections:
        if coll.get_zorder() < 1:                                    # the fit's band, drawn under the points
            continue
        depth = {p["student_layers"] for p in pts
                 if any(np.allclose(o, (p["A_course"], p["noise_retained"])) for o in coll.get_offsets())}
        assert len(depth) == 1                                       # one depth per drawn group
        colours.setdefault(depth.pop(), set()).add(tuple(np.round(coll.get_facecolor()[0], 3)))
    assert sorted(colours) == [3, 6, 9] and all(len(c) == 1 for c in colours.values())
    assert len(set().union(*colours.values())) == 3                  # three depths, three colours
    titles = sorted(lg.get_title().get_text() for lg in fig.legends)
    assert titles == ["student layers", "task"]


def test_figures_are_deterministic():
    import io
    for build in (fig_sensitivity_scatter, fig_circuit_graph, fig_layer_head_heatmaps):
        pngs = []
        for _ in range(2):
            fig = build()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            pngs.append(buf.getvalue())
            plt.close(fig)
        assert pngs[0] == pngs[1]


def test_robustness_points_carry_the_student_depth_the_figure_colours_by():
    from dcirc_utils.studies.open_questions import robustness_points
    profile = {"pair": "small-s3", "task": "qa", "student_layers": 3, "A_course": 0.9, "A_study": 0.88,
               "student_value": 4.0, "student_accuracy": 1.0, "noise_retained": 0.7, "student_worst_drop": -90.0}
    [p] = robustness_points({"profiles": [profile], "shift": []})
    assert p["student_layers"] == 3 and p["task"] == "qa" and math.isnan(p["shift_loss"])


def test_clipped_cells_show_a_value_beyond_the_limits_at_any_scale():
    import matplotlib
    matplotlib.use("Agg")
    from dcirc_utils.report import plots
    with matplotlib.rc_context(plots.NOTEBOOK_RC):
        # small scales (random-weight runs): the written value keeps its digits, never "0.0"
        fig = plots.layer_head_heatmaps({"a": ([[.01, .02, .03], [.01, .02, .04]], [.01, -.045])}, clip_percentile=80)
        written = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert written and all(w not in ("0.0", "−0.0", "0", "−0") for w in written), written
        # a value just beyond the limit keeps the decimal that shows it: 12.4 beyond ±12.2 is "12.4", not "12"
        fig2 = plots.layer_head_heatmaps({"b": ([[12.4, 1.0], [0.5, -1.0]], None)}, vmin=-12.2, vmax=12.2)
        assert [t.get_text() for ax in fig2.axes for t in ax.texts] == ["12.4"]
    import matplotlib.pyplot as plt
    plt.close("all")
