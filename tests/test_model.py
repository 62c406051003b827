import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hvppi.io.alphabet import tokenize
from hvppi.ppi.inference import encode_proteins, pad_tokens
from hvppi.ppi.model import Dropout, InteractionModel, ModelConfig, reverse_within_length


def random_proteins(rng, n, low=5, high=80):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    return ["".join(rng.choice(letters, rng.integers(low, high))) for _ in range(n)]


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return InteractionModel().eval()


def test_default_size_matches_the_paper(model):
    assert 34_000 <= model.n_parameters() <= 37_000
    widths = [m.out_features for m in model.head.layers if isinstance(m, torch.nn.Linear)]
    assert widths == [64, 32, 16, 8, 4, 1]


def test_reverse_within_length_is_an_involution_that_keeps_padding():
    x = torch.arange(12.0).reshape(2, 6, 1)
    lengths = torch.tensor([4, 6])
    rev = reverse_within_length(x, lengths)
    assert rev[0, :, 0].tolist() == [3, 2, 1, 0, 4, 5]
    assert rev[1, :, 0].tolist() == [11, 10, 9, 8, 7, 6]
    assert torch.equal(reverse_within_length(rev, lengths), x)


def test_tower_equals_a_packed_bidirectional_lstm(model, rng):
    tower = model.human_tower
    reference = torch.nn.LSTM(7, 32, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(reference, name).copy_(getattr(tower.lstm_forward, name))
            getattr(reference, name + "_reverse").copy_(getattr(tower.lstm_backward, name))
    tokens, lengths = pad_tokens([tokenize(s) for s in random_proteins(rng, 9)])
    with torch.no_grad():
        ours = tower.residue_outputs(tokens, lengths)
        packed = pack_padded_sequence(
            torch.nn.functional.embedding(tokens, tower.features), lengths, batch_first=True, enforce_sorted=False
        )
        theirs, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=tokens.shape[1])
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_attention_is_a_distribution_over_valid_positions(model, rng):
    tokens, lengths = pad_tokens([tokenize(s) for s in random_proteins(rng, 40)])
    with torch.no_grad():
        vectors, weights = model.virus_tower(tokens, lengths)
    assert vectors.shape == (40, 64) and weights.shape == tokens.shape
    torch.testing.assert_close(weights.sum(1), torch.ones(40))
    for row, n in zip(weights, lengths):
        assert torch.all(row[n:] == 0) and torch.all(row[:n] > 0)


def test_a_protein_is_encoded_the_same_alone_and_in_any_batch(model, rng):
    proteins = [tokenize(s) for s in random_proteins(rng, 70, 5, 300)]
    together, attention = encode_proteins(model.human_tower, proteins, with_attention=True)
    for i in (0, 17, 69):
        alone, alone_attention = encode_proteins(model.human_tower, [proteins[i]], with_attention=True)
        np.testing.assert_allclose(together[i], alone[0], atol=1e-6)
        np.testing.assert_allclose(attention[i], alone_attention[0], atol=1e-6)


def test_forward_gives_one_logit_per_pair_and_gradients_flow(rng):
    torch.manual_seed(1)
    model = InteractionModel().train()
    h, hl = pad_tokens([tokenize(s) for s in random_proteins(rng, 6)])
    v, vl = pad_tokens([tokenize(s) for s in random_proteins(rng, 6)])
    logits = model(h, hl, v, vl)
    assert logits.shape == (6,)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_dropout_matches_torch_semantics():
    torch.manual_seed(0)
    drop = Dropout(0.5)
    x = torch.ones(200_000)
    y = drop(x)
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}
    assert abs(float((y == 0).float().mean()) - 0.5) < 0.01
    assert torch.equal(drop.eval()(x), x)


def test_config_round_trip_and_unknown_keys():
    config = ModelConfig(lstm_hidden=16, head_widths=(8, 4))
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown model settings"):
        ModelConfig.from_dict({"lstm_units": 3})
    small = InteractionModel(config)
    assert small.human_tower.protein_dim == 32


def test_pooled_vector_is_the_attention_weighted_sum_of_residue_outputs(model, rng):
    tokens, lengths = pad_tokens([tokenize(s) for s in random_proteins(rng, 5)])
    with torch.no_grad():
        pooled, weights = model.human_tower(tokens, lengths)
        outputs = model.human_tower.residue_outputs(tokens, lengths)
    torch.testing.assert_close(pooled, (weights[:, :, None] * outputs).sum(1), atol=1e-6, rtol=1e-5)
