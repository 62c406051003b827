"""The screening study scripts' package parts: their feature groups, settings and tables (the runs take minutes)."""

import pytest

from hvppi.screening.benchmark.ablation import GROUPS, parse_setting
from hvppi.screening.benchmark.seeds import SHOWN, seeds_table
from hvppi.screening.features import FEATURES


def test_ablation_groups_partition_the_features():
    names = [n for group in GROUPS.values() for n in group]
    assert sorted(names) == sorted(FEATURES) and len(names) == len(set(names))


def test_ablation_settings_are_parsed_and_checked():
    assert parse_setting("max_leaf_nodes=63") == ("max_leaf_nodes", 63)
    assert parse_setting("learning_rate=0.05") == ("learning_rate", 0.05)
    assert parse_setting("negatives_per_virus=150") == ("negatives_per_virus", 150)
    for bad in ("neighbours=5", "max_iter", "max_iter="):
        with pytest.raises(ValueError, match="expected NAME=VALUE"):
            parse_setting(bad)


def test_seed_table_rows_and_spread():
    def row(auc, recall):
        methods = {m: {"roc_auc": [auc, 0, 1], "recall_top_50": [recall, 0, 1]} for m in SHOWN}
        return {"held_out": 200, "methods": methods, "model - homology": {"recall_top_50": [0.05, 0.01, 0.09]}}

    text = seeds_table({"benchmark": {"0": row(0.8, 0.2), "1": row(0.7, 0.3)}})
    lines = text.splitlines()
    assert len(lines) == 2 + 2 + 1
    assert "| benchmark | 0 | 200 | 0.800 / 0.200 |" in lines[2]
    # mean ± sample standard deviation over the two seeds
    assert "0.750±0.071 / 0.250±0.071" in lines[4]
