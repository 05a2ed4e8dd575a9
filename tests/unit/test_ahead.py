"""pylayer.ahead: the layer's zip made while the workers import, used only for exactly the entries verified."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from pylayer.ahead import ArchiveAhead, Cancelled, Made
from pylayer.archive import Archive, Entry

ENTRIES = [Entry("python/a.py", 1, False, data=b"a"), Entry("python/__pycache__/a.cpython-312.pyc", 2, False,
                                                             data=b"bc")]


STAGED = Archive(Path("staged.zip"), "cd" * 32, "y", 5, 1, 1)


class Bucket:
    def __init__(self, already_there: bool = False, fails: bool = False) -> None:
        self.already_there, self.fails = already_there, fails
        self.made: list[list[Entry]] = []

    def make(self, staged: Archive, entries: list[Entry], cancelled: threading.Event) -> Made:
        if self.fails:
            raise OSError(28, "No space left on device")
        if cancelled.is_set():  # as the provider does between writing the zip and uploading it
            raise Cancelled
        self.made.append(entries)  # "uploaded"
        return Made(Archive(Path("layer.zip"), "ab" * 32, "x", 10, 3, 2), "layers/sha256/abab.zip",
                    uploaded=not self.already_there)

    def ahead(self) -> ArchiveAhead:
        return ArchiveAhead(self.make)


def test_the_archive_made_ahead_is_taken_for_the_same_entries() -> None:
    bucket = Bucket()
    ahead = bucket.ahead()
    ahead.start(STAGED, list(ENTRIES))
    ahead.start(STAGED, ENTRIES[:1])  # a second start changes nothing

    made = ahead.take(list(ENTRIES))
    ahead.close()

    assert made is not None and made.key == "layers/sha256/abab.zip"
    assert bucket.made == [ENTRIES]


def test_other_entries_take_nothing(caplog: pytest.LogCaptureFixture) -> None:
    bucket = Bucket()
    ahead = bucket.ahead()
    ahead.start(STAGED, list(ENTRIES))

    with caplog.at_level(logging.INFO):
        assert ahead.take(ENTRIES[:1]) is None  # the bytecode was left out after all: the zip is made again
    assert "layers/sha256/abab.zip was uploaded ahead for a layer that is not published" in caplog.text


def test_a_failed_layer_waits_for_what_was_made_and_says_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = Bucket(), Bucket(already_there=True)
    with caplog.at_level(logging.INFO):
        for bucket in (ours, theirs):
            ahead = bucket.ahead()
            ahead.start(STAGED, list(ENTRIES))
            ahead.discard(5.0)
    assert caplog.text.count("was uploaded ahead") == 1  # an archive already there is not this build's


def test_a_failure_ahead_means_making_it_the_usual_way() -> None:
    bucket = Bucket(fails=True)
    ahead = bucket.ahead()
    ahead.start(STAGED, list(ENTRIES))

    assert ahead.take(list(ENTRIES)) is None
    ahead.discard(5.0)


def test_nothing_started_takes_nothing() -> None:
    bucket = Bucket()
    ahead = bucket.ahead()
    assert ahead.take(list(ENTRIES)) is None
    ahead.discard(5.0)
    ahead.close()
    assert bucket.made == []


def test_start_from_another_thread_is_seen_by_take() -> None:
    bucket = Bucket()
    ahead = bucket.ahead()
    thread = threading.Thread(target=ahead.start, args=(STAGED, list(ENTRIES)))
    thread.start()
    thread.join()
    assert ahead.take(list(ENTRIES)) is not None


def test_a_failed_layer_does_not_wait_long_for_a_zip_still_being_made_and_it_is_not_uploaded(
        caplog: pytest.LogCaptureFixture) -> None:
    release, finished = threading.Event(), threading.Event()
    bucket = Bucket()

    def slow(staged: Archive, entries: list[Entry], cancelled: threading.Event) -> Made:
        try:
            assert release.wait(10)  # still writing the zip
            return bucket.make(staged, entries, cancelled)
        finally:
            finished.set()

    ahead = ArchiveAhead(slow)
    ahead.start(STAGED, list(ENTRIES))
    with caplog.at_level(logging.WARNING):
        ahead.discard(0.05)  # the failure's answer comes first
        ahead.close()
    assert "not done in 0 s; not waiting for it" in caplog.text
    release.set()
    assert finished.wait(10)
    assert bucket.made == []  # the build that outlived its layer's failure uploaded nothing
