"""Settings objects check themselves on construction; modes are Literal types checked at run time."""

import math

import numpy as np
import pytest
import torch

from hvppi.datasets.build import BuildSettings
from hvppi.lstm.model import TOWER_NAMES, InteractionModel, ModelConfig, check_tower
from hvppi.lstm.training import TrainConfig
from hvppi.scoring.interface import ScreenSettings

NAN, INF = math.nan, math.inf


def test_defaults_are_valid():
    ModelConfig(), TrainConfig(), ScreenSettings(), BuildSettings()


@pytest.mark.parametrize(
    "field, value",
    [
        ("lstm_dropout", 1.5),
        ("lstm_dropout", 1.0),
        ("attention_dropout", -0.1),
        ("attention_weight_dropout", NAN),
        ("head_dropout", "0.5"),
        ("n_features", 0),
        ("lstm_hidden", "32"),
        ("lstm_hidden", 32.0),
        ("lstm_hidden", True),
        ("attention_hidden", -4),
        ("head_widths", (8, 0)),
        ("head_widths", 8),
        ("head_widths", "84"),
    ],
)
def test_model_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_model_config_accepts_edge_values_and_normalises_head_widths():
    config = ModelConfig(lstm_dropout=0.0, head_dropout=0.999, head_widths=[8, np.int64(4)], lstm_hidden=np.int64(8))
    assert config.head_widths == (8, 4) and isinstance(config.head_widths, tuple)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="head_dropout"):
        ModelConfig.from_dict({**ModelConfig().to_dict(), "head_dropout": 1.5})


@pytest.mark.parametrize(
    "field, value",
    [
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("learning_rate", 0),
        ("learning_rate", INF),
        ("learning_rate", NAN),
        ("beta", 1.0),
        ("beta", 0.0),
        ("class_count", "epoch"),
        ("patience", 0),
        ("max_epochs", -1),
        ("negative_ratio", 0),
        ("negative_ratio", NAN),
        ("validation_fraction", 1.0),
        ("validation_fraction", 0),
        ("seed", -1),
        ("seed", 1.5),
    ],
)
def test_train_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_train_config_accepts_its_documented_range():
    TrainConfig(max_epochs=0, negative_ratio=0.5, class_count="dataset", beta=0.5, validation_fraction=0.5)


@pytest.mark.parametrize(
    "field, value",
    [
        ("chunk_size", 0),
        ("chunk_size", 2.5),
        ("min_score", 5),
        ("min_score", -0.1),
        ("min_score", NAN),
        ("top_k", 0),
        ("top_k", 1.5),
    ],
)
def test_screen_settings_reject_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ScreenSettings(**{field: value})


def test_screen_settings_accept_probabilities_and_numpy_numbers():
    ScreenSettings(min_score=0.0), ScreenSettings(min_score=np.float64(1.0), top_k=np.int64(3), chunk_size=1)


@pytest.mark.parametrize(
    "field, value",
    [
        ("mi_thresholds", (1.5,)),
        ("mi_thresholds", ()),
        ("mi_thresholds", (0.3, 0.3)),
        ("mi_thresholds", (NAN,)),
        ("mi_thresholds", 0.3),
        ("mi_source", "intact"),
        ("caps", "solved"),
        ("ratios", (0.0,)),
        ("ratios", ()),
        ("ratios", (INF,)),
        ("replicates", 0),
        ("seed", -1),
        ("test_fraction", 0.0),
        ("test_fraction", 1.0),
        ("min_length", 0),
        ("max_length", 10),  # below min_length 50
        ("identity", 0.3),
        ("identity", 1.2),
        ("clusterer", "mmseqs"),
        ("matrix", "BLOSUM99"),
        ("gap_open", -1),
        ("gap_extend", 1.5),
        ("distance_threshold", 1.0),
        ("outlier_fraction", 0.0),
        ("similarity", "cosine"),
        ("disjoint_test", "yes"),
        ("skip_bad_lines", 1),
        ("threads", -1),
    ],
)
def test_build_settings_reject_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        BuildSettings(**{field: value})


def test_build_settings_are_checked_again_after_a_change():
    settings = BuildSettings(matrix="PAM250", ratios=(1.0, 2.5), identity=0.4)
    settings.replicates = 0
    with pytest.raises(ValueError, match="replicates"):
        settings.validate()
    with pytest.raises(ValueError, match="paper's n"):
        BuildSettings(caps="paper", ratios=(1.0,))


def test_tower_names_are_checked():
    assert TOWER_NAMES == ("human", "virus")
    assert check_tower("virus") == "virus"
    torch.manual_seed(0)
    model = InteractionModel(ModelConfig(lstm_hidden=4, attention_hidden=4, head_widths=(4,)))
    assert model.tower("human") is model.human_tower and model.tower("virus") is model.virus_tower
    for typo in ("viral", "Human", "", None):
        with pytest.raises(ValueError, match="tower must be 'human' or 'virus'"):
            model.tower(typo)


def test_a_tower_typo_is_an_error_not_the_viral_tower(tmp_path):
    from hvppi.lstm.attention import protein_attention
    from hvppi.lstm.scorer import tower_vectors
    from hvppi.lstm.vectors import VectorStore

    model = InteractionModel(ModelConfig(lstm_hidden=4, attention_hidden=4, head_widths=(4,)))
    sequences = {"P1": "MKVLAAGIV"}
    with pytest.raises(ValueError, match="tower"):
        tower_vectors(model, "viruses", sequences, log=lambda m: None)
    with pytest.raises(ValueError, match="tower"):
        protein_attention(model, "humans", sequences)
    with pytest.raises(ValueError, match="tower"):
        VectorStore(tmp_path / "v.h5", "viral", "0" * 64)
    assert tower_vectors(model, "human", sequences, log=lambda m: None).shape == (1, 8)
