"""A 20 MiB file goes up and down through a served app without ever sitting in its memory."""

from __future__ import annotations

import pytest

from tests.documents.bench_throughput import SIZE, measure


@pytest.mark.slow
def test_a_20_mib_file_never_sits_in_the_servers_memory() -> None:
    m = measure(rounds=1)
    assert m["peak"] - m["before"] < SIZE / 2, m  # far below the file's size: streamed both ways
    assert m["upload"] < 30 and m["download"] < 30, m
