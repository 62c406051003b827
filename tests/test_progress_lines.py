"""Long loops report progress as plain lines off a terminal: no carriage returns in a log, one final line, and
nothing at all without progress."""

from __future__ import annotations

import re
import sys
import threading

import numpy as np
import pytest
from tqdm.auto import tqdm

from hvppi.io.alphabet import tokenize
from hvppi.io.progress import PlainProgress, iterate, progress

PROTEINS = ["MKTAYIAKQRQISFVKSHFSRQ", "MSEQNNTEMTFQIQRIYTKDIS", "MKVLAAGIVGLLLAQPAWA", "MADEEKLPPGWEKRMSRSSG"]
FINAL = re.compile(r"^(.+): 100% \(([\d,]+) of \2 \w+\)$", re.M)


def _plain(err: str, desc: str) -> None:
    assert "\r" not in err
    finals = [m for m in FINAL.finditer(err) if m.group(1) == desc]
    assert len(finals) == 1, err


def test_local_similarity_prints_plain_lines_and_a_final_one(capfd):
    from hvppi.align.similarity import local_scores, local_similarity

    quiet = local_similarity(PROTEINS, threads=2, progress=False)
    assert capfd.readouterr().err == ""
    loud = local_similarity(PROTEINS, threads=2, progress=True)
    err = capfd.readouterr().err
    _plain(err, "local alignment")
    assert "local alignment: 100% (4 of 4 proteins)" in err
    np.testing.assert_array_equal(quiet, loud)
    local_scores(PROTEINS[:2], PROTEINS, threads=2, progress=True)
    assert "local alignment: 100% (2 of 2 proteins)" in capfd.readouterr().err


def test_all_pairs_alignment_prints_plain_lines(capfd):
    from hvppi.align.blocks import aligned_pairs
    from hvppi.align.kernels import all_pairs_scores

    all_pairs_scores(PROTEINS, threads=2, progress=False)
    assert capfd.readouterr().err == ""
    all_pairs_scores(PROTEINS, threads=2, progress=True)
    _plain(capfd.readouterr().err, "aligning")
    aligned_pairs(PROTEINS, matrix="PAM250", block_rows=2, progress=True)
    err = capfd.readouterr().err
    _plain(err, "aligning")
    assert "aligning: 100% (6 of 6 alns)" in err


def test_encoding_proteins_prints_plain_lines(capfd):
    import torch

    from hvppi.lstm.inference import encode_proteins
    from hvppi.lstm.model import InteractionModel

    torch.manual_seed(0)
    tower = InteractionModel().human_tower
    tokens = [tokenize(s) for s in PROTEINS]
    encode_proteins(tower, tokens, progress=False)
    assert capfd.readouterr().err == ""
    encode_proteins(tower, tokens, progress=True, desc="encoding human proteins")
    err = capfd.readouterr().err
    _plain(err, "encoding human proteins")
    assert "encoding human proteins: 100% (4 of 4 proteins)" in err


def test_iterate_gives_plain_lines_with_postfix_and_nothing_when_disabled(capfd):
    assert list(iterate(range(3), desc="fold", unit="fold", enabled=False)) == [0, 1, 2]
    assert capfd.readouterr().err == ""
    bar = iterate(["a", "b"], desc="epoch 1", unit="batch", enabled=True)
    seen = []
    for item in bar:
        seen.append(item)
        bar.set_postfix(loss="0.5000")
    assert seen == ["a", "b"]
    assert capfd.readouterr().err == "epoch 1: 100% (2 of 2 batches, loss=0.5000)\n"


def test_plain_lines_come_every_so_often_and_updates_from_threads_all_count():
    lines: list[str] = []
    bar = PlainProgress(8000, "aligning", "aln", lines.append, every=0.0)
    with bar:
        workers = [threading.Thread(target=lambda: [bar.update(1) for _ in range(1000)]) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert bar.n == 8000
    assert lines[-1] == "aligning: 100% (8,000 of 8,000 alns)"
    assert len(lines) > 1 and lines.count(lines[-1]) == 1  # periodic lines, the final one once


def test_no_final_line_after_an_error_and_initial_counts():
    lines: list[str] = []
    with pytest.raises(KeyError), PlainProgress(10, "screening", "pair", lines.append) as bar:
        bar.update(3)
        raise KeyError
    assert lines == []
    with progress(10, "screening (dask)", "pair", True, lines.append, initial=6, unit_scale=True) as bar:
        bar.update(4)
    assert lines == ["screening (dask): 100% (10 of 10 pairs)"]


def test_a_terminal_gets_the_tqdm_bar(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress(5, "screening", "pair", True, leave=False)
    assert isinstance(bar, tqdm)
    bar.close()
    bar = iterate(range(2), desc="fold", unit="fold", enabled=True, leave=False)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]
