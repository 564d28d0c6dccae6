"""report/plots/diagrams.py: the method diagrams draw their runs, in the colours their legend names."""
import pytest
from matplotlib.colors import to_hex


from dcirc_utils.report import plots

pytestmark = pytest.mark.usefixtures("close_figures")


def _faces(fig):
    return {to_hex(p.get_facecolor()) for ax in fig.axes for p in ax.patches}


def test_path_patching_diagram_draws_both_runs_with_a_legend_of_its_colours():
    fig = plots.path_patching_diagram()
    assert [ax.get_title().split(" · ")[0] for ax in fig.axes] == ["Run 1", "Run 2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "corrupted activation", "frozen at its clean activation", "runs normally on the clean prompt", "receiver",
        "outside the circuit: mean-ablated"]
    colours = plots.DIAGRAM_COLOURS
    assert {colours[k] for k in ("corrupted", "frozen", "clean", "receiver")} <= _faces(fig)


def test_mean_ablation_diagram_marks_the_ablated_component_and_the_score():
    fig = plots.mean_ablation_diagram()
    assert len(fig.axes) == 1 and fig.axes[0].get_title().startswith("Mean ablation")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "component C (layer ℓ)" in texts and any(t.startswith("score = 100 · Δl") for t in texts)
    colours = plots.DIAGRAM_COLOURS
    assert {colours["clean"], colours["corrupted"], colours["mean"]} <= _faces(fig)
