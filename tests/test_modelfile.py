import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from hvppi._version import __version__
from hvppi.io.alphabet import tokenize
from hvppi.io.bundled import bundled_model_path
from hvppi.io.errors import ModelFileError
from hvppi.lstm.features import FEATURE_SET
from hvppi.lstm.inference import pad_tokens
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, load_model, read_model_info, save_model


def test_round_trip_keeps_weights_and_description(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(lstm_hidden=8, attention_hidden=4, head_widths=(8, 4))
    model = InteractionModel(config).eval()
    save_model(tmp_path / "m.safetensors", model, ModelInfo(config, cutoff=0.37, training_data_sha256="ab" * 32))
    loaded, info = load_model(tmp_path / "m.safetensors")
    assert info.config == config and info.cutoff == 0.37 and info.package_version == __version__
    assert info.feature_set == FEATURE_SET and info.training_data_sha256 == "ab" * 32
    h, hl = pad_tokens([tokenize("MKVLA"), tokenize("MKKKKKLLV")])
    with torch.no_grad():
        torch.testing.assert_close(loaded(h, hl, h, hl), model(h, hl, h, hl))
    assert not list(tmp_path.glob("*.part"))


def test_random_bytes_are_not_a_model(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        load_model(path)


def test_truncated_model_is_reported(tmp_path):
    model = InteractionModel()
    save_model(tmp_path / "m.safetensors", model, ModelInfo(model.config, cutoff=0.5))
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.safetensors")


def test_foreign_safetensors_file_is_refused(tmp_path):
    save_file({"w": torch.zeros(3)}, str(tmp_path / "other.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="not an hvppi model"):
        load_model(tmp_path / "other.safetensors")


def test_model_with_mismatched_weights_is_refused(tmp_path):
    save_file(
        {"human_tower.features": torch.zeros(26, 7)},
        str(tmp_path / "m.safetensors"),
        metadata={"hvppi": ModelInfo(ModelConfig(), cutoff=0.5).to_json()},
    )
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(tmp_path / "m.safetensors")


def test_newer_format_is_refused(tmp_path):
    doc = json.loads(ModelInfo(ModelConfig(), cutoff=0.5).to_json())
    doc["format_version"] = 99
    save_file({"w": torch.zeros(1)}, str(tmp_path / "m.safetensors"), metadata={"hvppi": json.dumps(doc)})
    with pytest.raises(ModelFileError, match="newer"):
        read_model_info(tmp_path / "m.safetensors")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ModelFileError):
        load_model(path)
    assert not marker.exists()


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_bundled_model_describes_itself():
    info = read_model_info(bundled_model_path("lstm-phv-benchmark"))
    assert info.config == ModelConfig()
    assert 0 < info.cutoff < 1
    assert info.training["recipe"]["negative_ratio"] == 1.0
    assert len(info.training_data_sha256) == 64
    model, _ = load_model()
    assert 34_000 <= model.n_parameters() <= 37_000


@pytest.mark.parametrize("change", [{"lstm_hidden": "32"}, {"lstm_hidden": -1}, {"head_dropout": 1.5}])
def test_model_file_with_bad_configuration_values_is_refused(tmp_path, change):
    doc = json.loads(ModelInfo(ModelConfig(), cutoff=0.5).to_json())
    doc["config"].update(change)
    state = {k: v.contiguous() for k, v in InteractionModel().state_dict().items()}
    save_file(state, str(tmp_path / "m.safetensors"), metadata={"hvppi": json.dumps(doc)})
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "m.safetensors")


def test_model_file_with_unknown_features_is_refused(tmp_path):
    doc = json.loads(ModelInfo(ModelConfig(), cutoff=0.5).to_json())
    doc["feature_set"] = "blosum62-onehot"
    state = {k: v.contiguous() for k, v in InteractionModel().state_dict().items()}
    save_file(state, str(tmp_path / "m.safetensors"), metadata={"hvppi": json.dumps(doc)})
    with pytest.raises(ModelFileError, match="feature set"):
        load_model(tmp_path / "m.safetensors")
