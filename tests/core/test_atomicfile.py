"""Atomic writes: no partial files, no temp left behind, and no clobbering, also
between two processes started at once."""

import errno
import multiprocessing
import os

import pytest

from omamori import atomicfile
from omamori.atomicfile import write_atomic
from omamori.errors import InputError


def _race(path, payload, barrier, results):
    barrier.wait()  # both processes write at the same moment
    try:
        write_atomic(path, payload)
        results.put(("ok", payload[:1]))  # which one won
    except InputError as err:
        results.put(("refused", err.message("en")))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_two_processes_racing_never_clobber(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(12):
        path = tmp_path / f"out-{round_}.png"
        barrier, results = context.Barrier(2), context.Queue()
        # Big payloads keep the write long enough for the two to overlap.
        payloads = [bytes([65 + i]) * (4 << 20) for i in range(2)]
        workers = [context.Process(target=_race, args=(path, p, barrier, results)) for p in payloads]
        for worker in workers:
            worker.start()
        answers = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        winners = [payload for kind, payload in answers if kind == "ok"]
        refused = [message for kind, message in answers if kind == "refused"]
        assert len(winners) == 1 and len(refused) == 1, answers
        assert "already exists" in refused[0] and "\n" not in refused[0]
        assert path.read_bytes() == winners[0] * (4 << 20)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_writer_callable_and_overwrite(tmp_path):
    path = tmp_path / "a.json"
    write_atomic(path, lambda handle: handle.write(b"first"))
    with pytest.raises(InputError, match="already exists"):
        write_atomic(path, b"second")
    assert path.read_bytes() == b"first"
    write_atomic(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second"


def test_dangling_symlink_counts_as_existing(tmp_path):
    link = tmp_path / "a.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(InputError, match="already exists"):
        write_atomic(link, b"x")
    assert not (tmp_path / "elsewhere.png").exists()


def test_without_hard_links_still_no_clobber(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(atomicfile.os, "link", no_links)
    path = tmp_path / "a.png"
    write_atomic(path, b"data")
    assert path.read_bytes() == b"data"
    monkeypatch.setattr(atomicfile, "check_target", lambda path, overwrite: None)  # as if another process won
    with pytest.raises(InputError, match="already exists"):
        write_atomic(path, b"other")
    assert path.read_bytes() == b"data" and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_link_losing_the_race_is_the_same_one_line(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    monkeypatch.setattr(atomicfile, "check_target", lambda path, overwrite: None)
    path.write_bytes(b"theirs")
    with pytest.raises(InputError) as caught:
        write_atomic(path, b"ours")
    assert "already exists" in caught.value.message("en") and "上書きしません" in caught.value.message("ja")
    assert path.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_a_name_near_the_length_limit_is_written(tmp_path):
    """254 bytes is a legal name: the temp file beside it must not need more."""
    path = tmp_path / ("あ" * 80 + "-protected.png")  # 3 bytes a character in UTF-8
    assert write_atomic(path, b"data").read_bytes() == b"data"
    assert os.listdir(tmp_path) == [path.name]


def test_a_name_over_the_length_limit_is_one_line(tmp_path):
    path = tmp_path / ("あ" * 90 + ".png")
    with pytest.raises(InputError, match="cannot write into") as info:
        write_atomic(path, b"data")
    assert "\n" not in info.value.message() and os.listdir(tmp_path) == []
