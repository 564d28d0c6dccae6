"""dcirc_utils.core.components: one identity per component, printed and parsed in one place."""
from __future__ import annotations

import pytest

from dcirc_utils.core.components import (Component, Site, all_components, check_layer_map, pair_label,
                                         parse_component, parse_pair_label, student_layer_map)


def test_print_and_parse_round_trip():
    for c in all_components(3, 4):
        assert parse_component(str(c)) == c
    assert str(Component(4, 10)) == "4.10" and str(Component(3)) == "MLP3"
    assert parse_component(" MLP 3 ") == Component(3) and parse_component(Component(1, 2)) == Component(1, 2)
    with pytest.raises(ValueError, match="layer.head"):
        parse_component("L4H10")
    with pytest.raises(ValueError, match="head >= 0"):
        Component(1, -2)


def test_sites_of_components_and_order():
    assert Component(2, 5).site == Site("z", 2) and Component(2, 5).index == 5
    assert Component(2).site == Site("mlp_out", 2) and Component(2).index is None
    comps = all_components(2, 2)
    assert [str(c) for c in comps] == ["0.0", "0.1", "MLP0", "1.0", "1.1", "MLP1"]
    assert str(Site("resid_final")) == "resid_final" and str(Site("q", 3)) == "q@3"


def test_pair_labels():
    assert pair_label(Component(9), Component(4)) == "T9/S4"
    assert pair_label(Component(4, 4), Component(2, 4)) == "T4.4/S2.4"
    for t, s in [(Component(9), Component(4)), (Component(7, 11), Component(3, 0))]:
        assert parse_pair_label(pair_label(t, s)) == (t, s)
    with pytest.raises(ValueError, match="a head matches a head"):
        pair_label(Component(1, 1), Component(1))
    with pytest.raises(ValueError, match="cannot read pair"):
        parse_pair_label("T9/S4.1")


def test_student_layer_map():
    assert student_layer_map(12, 6) == [0, 2, 4, 7, 9, 11]      # DistilGPT2's blocks of GPT-2
    assert student_layer_map(6, 3) == [0, 2, 5]
    assert student_layer_map(12, 3) == [0, 6, 11] and student_layer_map(12, 9)[-1] == 11
    assert student_layer_map(5, 1) == [0]
    with pytest.raises(ValueError, match="subset"):
        student_layer_map(3, 4)
    assert check_layer_map([0, 2, 5], 6, 3) == [0, 2, 5]
    with pytest.raises(ValueError, match="increasing"):
        check_layer_map([0, 0, 5], 6, 3)


def test_named_constructors_build_heads_and_mlps():
    from dcirc_utils.core.components import Component
    assert Component.head(4, 10) == Component(4, 10) and str(Component.head(4, 10)) == "4.10"
    assert Component.mlp(3) == Component(3, -1) and Component.mlp(3).is_mlp and str(Component.mlp(3)) == "MLP3"
    assert Component.head(4, 10).head == 10 and Component.mlp(3).head == -1      # the field is untouched
    assert Component.parse("MLP3") == Component.mlp(3)
    with pytest.raises(ValueError, match=r"Component.mlp\(1\)"):
        Component.head(1, -1)
