from collections import Counter

import numpy as np
import pytest
import torch

from hvppi.cli import main
from hvppi.io.alphabet import tokenize
from hvppi.io.errors import InputError
from hvppi.io.sequences import read_sequences
from hvppi.lstm.inference import pad_tokens
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, load_model, save_model
from hvppi.lstm.scorer import InteractionScorer, tower_vectors
from hvppi.lstm.vectors import VectorStore
from hvppi.scoring import screen as screening
from hvppi.scoring.interface import ScreenSettings
from hvppi.scoring.screen import screen


def random_set(rng, prefix, n):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    return {f"{prefix}{i}": "".join(rng.choice(letters, rng.integers(20, 90))) for i in range(n)}


@pytest.fixture()
def small_model(tmp_path):
    torch.manual_seed(3)
    config = ModelConfig(lstm_hidden=8, attention_hidden=8, head_widths=(8, 4))
    model = InteractionModel(config)
    with torch.no_grad():  # make BatchNorm's running statistics non-trivial
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "small.safetensors"
    save_model(path, model, ModelInfo(config, cutoff=0.5))
    return load_model(path)


def read_tsv(path):
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [l.split("\t") for l in lines[1:]]


def test_screen_scores_equal_the_per_pair_model(tmp_path, small_model, rng):
    model, info = small_model
    virus, human = random_set(rng, "V", 3), random_set(rng, "H", 11)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=lambda m: None)
    header, rows = read_tsv(tmp_path / "s.tsv")
    assert header == ["human_id", "virus_id", "score", "call", "rank"] and len(rows) == 33
    got = {(r[0], r[1]): float(r[2]) for r in rows}
    with torch.no_grad():
        for v, vs in virus.items():
            h_tok, h_len = pad_tokens([tokenize(s) for s in human.values()])
            v_tok, v_len = pad_tokens([tokenize(vs)] * len(human))
            expected = torch.sigmoid(model(h_tok, h_len, v_tok, v_len)).numpy()
            for h, e in zip(human, expected):
                assert got[(h, v)] == pytest.approx(float(e), abs=1e-6)


def test_rows_are_ranked_within_each_viral_protein(tmp_path, small_model, rng):
    model, info = small_model
    virus, human = random_set(rng, "V", 4), random_set(rng, "H", 9)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=lambda m: None)
    _, rows = read_tsv(tmp_path / "s.tsv")
    assert [r[1] for r in rows[::9]] == list(virus)
    for k in range(4):
        block = rows[9 * k : 9 * (k + 1)]
        scores = [float(r[2]) for r in block]
        assert [int(r[4]) for r in block] == list(range(1, 10)) and scores == sorted(scores, reverse=True)
        assert all(int(r[3]) == (float(r[2]) >= info.cutoff) for r in block)


def test_top_k_and_min_score(tmp_path, small_model, rng):
    model, info = small_model
    virus, human = random_set(rng, "V", 3), random_set(rng, "H", 12)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "all.tsv", progress=False, log=lambda m: None)
    _, every = read_tsv(tmp_path / "all.tsv")
    screen(
        InteractionScorer(model, info),
        virus,
        human,
        tmp_path / "top.tsv",
        ScreenSettings(top_k=2),
        progress=False,
        log=lambda m: None,
    )
    _, top = read_tsv(tmp_path / "top.tsv")
    assert top == [r for r in every if int(r[4]) <= 2]
    ordered = sorted(float(r[2]) for r in every)
    gap = max(range(10, 26), key=lambda i: ordered[i] - ordered[i - 1])
    threshold = (ordered[gap] + ordered[gap - 1]) / 2
    screen(
        InteractionScorer(model, info),
        virus,
        human,
        tmp_path / "min.tsv",
        ScreenSettings(min_score=threshold),
        progress=False,
        log=lambda m: None,
    )
    _, kept = read_tsv(tmp_path / "min.tsv")
    assert kept == [r for r in every if float(r[2]) >= threshold]


def test_interrupted_screen_resumes_without_duplicates(tmp_path, small_model, rng, monkeypatch):
    model, info = small_model
    virus, human = random_set(rng, "V", 20), random_set(rng, "H", 5)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "full.tsv", progress=False, log=lambda m: None)
    original, calls = screening.write_chunk, []

    def failing(path, blocks, fmt, columns):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path)
        original(path, blocks, fmt, columns)

    monkeypatch.setattr(screening, "write_chunk", failing)
    with pytest.raises(KeyboardInterrupt):
        screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=lambda m: None)
    assert not (tmp_path / "s.tsv").exists() and len(list((tmp_path / "s.tsv.parts").glob("chunk-*"))) == 2
    monkeypatch.setattr(screening, "write_chunk", original)
    messages = []
    screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=messages.append)
    assert any("resuming: 2 of 3" in m for m in messages)
    assert (tmp_path / "s.tsv").read_text() == (tmp_path / "full.tsv").read_text()
    assert not (tmp_path / "s.tsv.parts").exists()


def test_unfinished_screen_with_other_inputs_needs_restart(tmp_path, small_model, rng):
    model, info = small_model
    virus, human = random_set(rng, "V", 2), random_set(rng, "H", 3)
    (tmp_path / "s.tsv.parts").mkdir()
    (tmp_path / "s.tsv.parts" / "screen.json").write_text("{}")
    with pytest.raises(InputError, match="--restart"):
        screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=lambda m: None)
    screen(
        InteractionScorer(model, info),
        virus,
        human,
        tmp_path / "s.tsv",
        progress=False,
        restart=True,
        log=lambda m: None,
    )
    assert len(read_tsv(tmp_path / "s.tsv")[1]) == 6


def test_parquet_output_matches_tsv(tmp_path, small_model, rng):
    pq = pytest.importorskip("pyarrow.parquet")
    model, info = small_model
    virus, human = random_set(rng, "V", 3), random_set(rng, "H", 4)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "s.tsv", progress=False, log=lambda m: None)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "s.parquet", progress=False, log=lambda m: None)
    table = pq.read_table(tmp_path / "s.parquet").to_pydict()
    _, rows = read_tsv(tmp_path / "s.tsv")
    assert table["human_id"] == [r[0] for r in rows] and table["rank"] == [int(r[4]) for r in rows]
    np.testing.assert_allclose(table["score"], [float(r[2]) for r in rows], rtol=1e-5)


def test_vector_store_is_reused_and_guarded(tmp_path, small_model, rng, encoded_proteins):
    model, info = small_model
    human = random_set(rng, "H", 6)
    with VectorStore(tmp_path / "h.h5", "human", info.file_sha256) as store:
        first = tower_vectors(model, "human", human, store, log=lambda m: None)
    assert encoded_proteins.of(model.human_tower) == Counter(human.values())
    changed = dict(human, H0=human["H0"][::-1])
    messages = []
    encoded_proteins.clear()
    with VectorStore(tmp_path / "h.h5", "human", info.file_sha256) as store:
        again = tower_vectors(model, "human", changed, store, log=messages.append)
    # only the protein whose sequence changed is encoded again; the other five come from the store
    assert encoded_proteins.counts == Counter({(model.human_tower, changed["H0"]): 1})
    encoded_proteins.clear()
    fresh = tower_vectors(model, "human", changed, None)
    assert encoded_proteins.of(model.human_tower) == Counter(changed.values())
    np.testing.assert_array_equal(again, fresh)
    np.testing.assert_array_equal(again[1:], first[1:])
    assert any("changed sequence" in m for m in messages)
    with pytest.raises(InputError, match="another model"):
        VectorStore(tmp_path / "h.h5", "human", "0" * 64)
    with pytest.raises(InputError, match="not virus"):
        VectorStore(tmp_path / "h.h5", "virus", info.file_sha256)


def test_cli_encode_then_screen(tmp_path, small_model, rng, encoded_proteins):
    _, info = small_model
    model_path = info.path
    virus, human = random_set(rng, "V", 2), random_set(rng, "H", 5)
    (tmp_path / "v.fa").write_text("".join(f">{k}\n{v}\n" for k, v in virus.items()))
    (tmp_path / "h.fa").write_text("".join(f">{k}\n{v}\n" for k, v in human.items()))
    assert (
        main(
            [
                "encode",
                "--model",
                model_path,
                "--sequences",
                str(tmp_path / "h.fa"),
                "--tower",
                "human",
                "--out",
                str(tmp_path / "h.h5"),
                "--quiet",
            ]
        )
        == 0
    )
    assert Counter(seq for (_, seq), n in encoded_proteins.counts.items() for _ in range(n)) == Counter(human.values())
    encoded_proteins.clear()
    assert (
        main(
            [
                "screen",
                "--model",
                model_path,
                "--virus",
                str(tmp_path / "v.fa"),
                "--human",
                str(tmp_path / "h.fa"),
                "--human-vectors",
                str(tmp_path / "h.h5"),
                "--out",
                str(tmp_path / "s.tsv"),
                "--top-k",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    assert len(read_tsv(tmp_path / "s.tsv")[1]) == 6
    # the screen took the human vectors from the file: only the viral proteins were encoded, once each
    assert Counter(seq for (_, seq), n in encoded_proteins.counts.items() for _ in range(n)) == Counter(virus.values())


def test_fasta_with_duplicate_ids_is_refused_for_screening(tmp_path):
    (tmp_path / "v.fa").write_text(">V1\nMKV\n>V1\nMKV\n")
    with pytest.raises(InputError, match="duplicate ID") as err:
        read_sequences(tmp_path / "v.fa", allow_duplicates=False)
    assert err.value.line == 3 and err.value.protein_id == "V1"


def test_top_ranks_follow_the_model_not_input_order(tmp_path, benchmark_sequences):
    """With the bundled model, float32 scores of the top human proteins tie; the float64 head orders them."""
    model, info = load_model()
    ids = sorted(benchmark_sequences)
    human = {p: benchmark_sequences[p] for p in ids[:1500] if len(benchmark_sequences[p]) < 300}
    virus = {"Q89027": benchmark_sequences["Q89027"]}
    out = tmp_path / "s.parquet"
    screen(InteractionScorer(model, info), virus, human, out, progress=False, log=lambda m: None)
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pydict()
    top = np.array(table["score"][:20])
    assert table["rank"][:20] == list(range(1, 21)) and np.all(np.diff(top) < 0)
    float32_top = np.unique(top.astype(np.float32))
    assert len(float32_top) < len(top)  # the ties this test is about exist in float32
