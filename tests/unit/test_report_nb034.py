"""Report helpers added for notebooks 03 and 04."""
import pytest
import torch

from dcirc_utils.core.components import Component
from dcirc_utils.methods.heads import role_table
from dcirc_utils.report.tables import role_ranking_table


def test_role_ranking_table_marks_ranks_and_reference():
    scores = {"mover": torch.tensor([[0.1, 0.9], [0.5, 0.2]]), "dup": torch.tensor([[0.3, 0.0], [0.0, 0.8]])}
    other = {"mover": torch.tensor([[0.7, 0.1]]), "dup": torch.tensor([[0.2, 0.25]])}
    df = role_ranking_table({"T": role_table(scores, top_k=2), "S": role_table(other, top_k=2)},
                            reference={"mover": ["7.11"]}, marked={"T": [Component(0, 1)]})
    assert list(df.index) == ["mover", "dup"]
    assert list(df.columns) == ["study", "T top 1", "T top 2", "S top 1", "S top 2"]
    assert df.loc["mover", "T top 1"] == "0.1* 0.90"
    assert df.loc["mover", "T top 2"] == "1.0 0.50"
    assert df.loc["dup", "S top 1"] == "0.1 0.25"
    assert df.loc["mover", "study"] == "7.11" and df.loc["dup", "study"] == ""


def test_role_ranking_table_without_reference_and_short_rankings():
    rows = [{"role": "a", "rank": 1, "head": Component(0, 0), "score": 0.5}]
    df = role_ranking_table({"T": rows, "S": rows + [{"role": "a", "rank": 2, "head": Component(0, 1), "score": 0.375}]},
                            digits=1)
    assert list(df.columns) == ["T top 1", "S top 1", "S top 2"]
    assert df.loc["a", "S top 2"] == "0.1 0.4" and df.loc["a", "T top 1"] == "0.0 0.5"


def test_role_ranking_table_rejects_rows_without_keys():
    with pytest.raises(ValueError, match="lacks"):
        role_ranking_table({"T": [{"role": "a", "head": Component(0, 0)}]})


def test_by_position_dashes_named_series_and_keeps_colours_distinct():
    import matplotlib.pyplot as plt

    from dcirc_utils.report.plots import by_position
    series = {f"s{i}": [0.1 * i, 0.2, 0.3] for i in range(12)}
    fig = by_position(series, ["BOS", "a", "b"], dashed=["s3", "s7"], legend_outside=True)
    lines = [ln for ln in fig.axes[0].lines if ln.get_label() in series]
    assert [ln.get_label() for ln in lines] == list(series)
    assert {ln.get_label() for ln in lines if ln.get_linestyle() == "--"} == {"s3", "s7"}
    assert len({ln.get_color() for ln in lines}) == 12
    legend = fig.axes[0].get_legend()
    assert legend is not None and len(legend.get_texts()) == 12
    plt.close(fig)
