import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hvppi.io.alphabet import tokenize
from hvppi.lstm.inference import encode_proteins, pad_tokens
from hvppi.lstm.model import Dropout, InteractionModel, ModelConfig, reverse_within_length


def random_proteins(rng, n, low=5, high=80):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    return ["".join(rng.choice(letters, rng.integers(low, high))) for _ in range(n)]


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return InteractionModel().eval()


def lstm_parameters(n_in, hidden):
    """One direction of PyTorch's LSTM: 4 gates, each with input weights (hidden × n_in), recurrent
    weights (hidden × hidden) and two bias vectors (b_ih and b_hh)."""
    return 4 * (hidden * n_in + hidden * hidden + 2 * hidden)


def linear_parameters(n_in, n_out):
    return n_in * n_out + n_out


def batchnorm_parameters(n):
    return 2 * n  # γ and β; the running mean and variance are buffers, not parameters


def expected_parameters(config):
    """The parameter count of the architecture described in the README, from the layer sizes alone."""
    hidden, width = config.lstm_hidden, 2 * config.lstm_hidden
    tower = (
        2 * lstm_parameters(config.n_features, hidden)
        + linear_parameters(width, config.attention_hidden)
        + linear_parameters(config.attention_hidden, 1)
    )
    head, n_in = 0, 2 * width
    for n_out in config.head_widths:
        head += linear_parameters(n_in, n_out) + batchnorm_parameters(n_out)
        n_in = n_out
    head += linear_parameters(n_in, 1)
    return 2 * tower + head


def test_default_size_is_exactly_the_papers_36507_parameters(model):
    # One tower: BiLSTM 7 → 32 per direction, 4·(32·7 + 32·32 + 2·32) = 5,248 per direction, 10,496;
    # attention Linear 64→32 (64·32 + 32 = 2,080) and Linear 32→1 (32 + 1 = 33): 12,609 per tower.
    towers = 2 * (2 * 4 * (32 * 7 + 32 * 32 + 2 * 32) + (64 * 32 + 32) + (32 * 1 + 1))
    # Head on the 128-d vector: Linear + BatchNorm (γ, β) per width, then Linear 4→1:
    # 8,256+128, 2,080+64, 528+32, 136+16, 36+8, and 5 = 11,289.
    head = (
        (128 * 64 + 64 + 2 * 64)
        + (64 * 32 + 32 + 2 * 32)
        + (32 * 16 + 16 + 2 * 16)
        + (16 * 8 + 8 + 2 * 8)
        + (8 * 4 + 4 + 2 * 4)
        + (4 * 1 + 1)
    )
    assert (towers, head) == (25_218, 11_289)
    assert towers + head == 36_507 == expected_parameters(ModelConfig())
    assert model.n_parameters() == 36_507
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 36_507
    widths = [m.out_features for m in model.head.layers if isinstance(m, torch.nn.Linear)]
    assert widths == [64, 32, 16, 8, 4, 1]


def test_parameter_count_follows_the_configured_sizes():
    config = ModelConfig(lstm_hidden=16, attention_hidden=8, head_widths=(12, 6, 3))
    model = InteractionModel(config)
    assert model.n_parameters() == expected_parameters(config) == sum(p.numel() for p in model.parameters())


def _layer(module):
    """What the paper specifies about a layer: kind, sizes, dropout rate."""
    nn = torch.nn
    if isinstance(module, nn.LSTM):
        return ("BiLSTM" if module.bidirectional else "LSTM", module.input_size, module.hidden_size)
    if isinstance(module, nn.Dropout):
        return ("Dropout", module.p)
    if isinstance(module, nn.Linear):
        return ("Linear", module.in_features, module.out_features)
    if isinstance(module, nn.BatchNorm1d):
        return ("BatchNorm", module.num_features)
    return (type(module).__name__,)


def _as_paper_layers(calls):
    """Layers in call order; two unidirectional LSTMs of the same sizes run back to back are one BiLSTM."""
    layers = []
    for module, _, _ in calls:
        layer = _layer(module)
        if layer[0] == "LSTM" and layers and layers[-1] == layer:
            layers[-1] = ("BiLSTM", *layer[1:])
        else:
            layers.append(layer)
    return layers


def _record_leaf_calls(model, towers):
    """Forward hooks on every leaf module, and on the towers: (module, inputs, output) in call order."""
    calls, tower_calls = [], []
    handles = [
        m.register_forward_hook(lambda m, args, out: calls.append((m, args, out)))
        for m in model.modules()
        if not list(m.children())
    ]
    handles += [t.register_forward_hook(lambda m, args, out: tower_calls.append((m, args, out))) for t in towers]
    return calls, tower_calls, handles


def _check_dropout(module, args, out, p):
    """Training-mode dropout: each element is dropped (0) or kept and scaled by 1/(1−p), about a
    share p of the nonzero inputs dropped."""
    x = args[0]
    kept = out != 0
    torch.testing.assert_close(out[kept], x[kept] / (1 - p), rtol=1e-6, atol=0)
    nonzero = x != 0
    if int(nonzero.sum()) >= 300:
        assert abs(float((~kept[nonzero]).float().mean()) - p) < 0.1, (module, p)


def test_layer_order_and_dropout_follow_the_paper(rng):
    """Walks the forward pass with hooks: which layers run, in which order, at which rates, and that
    each one takes the output of the one before (attention on the dropped-out BiLSTM output; the
    0.2 dropout on the attention weights; pooling with those weights)."""
    torch.manual_seed(0)
    model = InteractionModel().train()
    towers = [model.human_tower, model.virus_tower]
    calls, tower_calls, handles = _record_leaf_calls(model, towers)
    h, hl = pad_tokens([tokenize(s) for s in random_proteins(rng, 12, 40, 120)])
    v, vl = pad_tokens([tokenize(s) for s in random_proteins(rng, 12, 40, 120)])
    try:
        with torch.no_grad():
            logits = model(h, hl, v, vl)
    finally:
        for handle in handles:
            handle.remove()

    tower_layers = [
        ("BiLSTM", 7, 32),
        ("Dropout", 0.5),
        ("Linear", 64, 32),  # attention width 32
        ("ReLU",),
        ("Dropout", 0.5),
        ("Linear", 32, 1),
        ("Dropout", 0.2),  # on the attention weights
    ]
    head_layers = []
    for n_in, n_out in zip((128, 64, 32, 16, 8), (64, 32, 16, 8, 4)):
        head_layers += [("Linear", n_in, n_out), ("BatchNorm", n_out), ("Sigmoid",), ("Dropout", 0.5)]
    head_layers.append(("Linear", 4, 1))
    assert _as_paper_layers(calls) == tower_layers + tower_layers + head_layers

    # which module each call belongs to, and the data flow between them
    n_tower = len(calls) - len(head_layers)
    assert n_tower % 2 == 0
    per_tower = n_tower // 2
    head_calls = calls[n_tower:]
    assert [m for m, _, _ in tower_calls] == towers
    for k, (tower, (_, (_, lengths), (pooled, weights))) in enumerate(zip(towers, tower_calls)):
        block = calls[k * per_tower : (k + 1) * per_tower]
        assert all(any(m is t for t in tower.modules()) for m, _, _ in block)
        drop_out, attn_in, relu, attn_drop, attn_out, weight_drop = block[-6:]
        lstm_output = drop_out[1][0]
        assert lstm_output.shape == (12, int(lengths.max()), 64)
        _check_dropout(*drop_out, 0.5)
        assert torch.equal(attn_in[1][0], drop_out[2])  # attention reads the dropped-out BiLSTM output
        assert torch.equal(relu[1][0], attn_in[2]) and torch.equal(attn_drop[1][0], relu[2])
        _check_dropout(*attn_drop, 0.5)
        assert torch.equal(attn_out[1][0], attn_drop[2])
        # the 0.2 dropout acts on the softmax of the scores over each protein's own residues
        scores = attn_out[2].squeeze(-1)
        valid = torch.arange(scores.shape[1])[None, :] < lengths[:, None]
        softmax = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=1)
        torch.testing.assert_close(weight_drop[1][0], softmax)
        _check_dropout(*weight_drop, 0.2)
        # the protein vector: dropped-out weights × dropped-out BiLSTM outputs
        expected = (weight_drop[2][:, :, None] * drop_out[2]).sum(1)
        torch.testing.assert_close(pooled, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(weights[:, : softmax.shape[1]], softmax)

    human_vector, virus_vector = tower_calls[0][2][0], tower_calls[1][2][0]
    assert torch.equal(head_calls[0][1][0], torch.cat([human_vector, virus_vector], dim=1))
    for (before, _, before_out), (after, after_in, _) in zip(head_calls, head_calls[1:]):
        assert torch.equal(after_in[0], before_out), (before, after)
    for module, args, out in head_calls:
        if isinstance(module, torch.nn.Dropout):
            _check_dropout(module, args, out, 0.5)
        if isinstance(module, torch.nn.Sigmoid):
            assert torch.all((out > 0) & (out < 1))
    torch.testing.assert_close(logits, head_calls[-1][2].squeeze(-1))

    # in evaluation mode every dropout passes its input through
    model.eval()
    calls, _, handles = _record_leaf_calls(model, [])
    try:
        with torch.no_grad():
            model(h, hl, v, vl)
    finally:
        for handle in handles:
            handle.remove()
    dropouts = [(args[0], out) for m, args, out in calls if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 2 * 3 + 5 and all(torch.equal(x, y) for x, y in dropouts)


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
