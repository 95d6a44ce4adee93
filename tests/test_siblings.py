"""A log's files: rotated siblings found by listing, and files opened as a snapshot."""

from __future__ import annotations

import gzip
from pathlib import Path

from logtail.core.cursor import HEAD_BYTES
from logtail.sources.files.siblings import GzipReader, open_chain, open_file, rotated_siblings


def test_rotated_siblings_prefers_uncompressed_and_skips_symlinks(tmp_path: Path) -> None:
    """While a compressor turns NAME.1 into NAME.1.gz both exist: the complete, uncompressed one is listed."""
    for name in ("app.log", "app.log.1", "app.log.1.gz", "app.log.2.gz", "app.log.10", "app.log.x", "app.log.0",
                 "app.log.3.bz2", "other.log.4"):
        (tmp_path / name).write_bytes(b"x\n")
    (tmp_path / "app.log.4").symlink_to(tmp_path / "other.log.4")
    (tmp_path / "app.log.5").mkdir()
    found = [(s.path.name, s.number, s.compressed) for s in rotated_siblings(tmp_path / "app.log")]
    assert found == [("app.log.1", 1, False), ("app.log.2.gz", 2, True), ("app.log.10", 10, False)]



def test_open_chain_oldest_first_live_last(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(b"live\n")
    (tmp_path / "app.log.1").write_bytes(b"one\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"two\n"))
    files = open_chain(tmp_path / "app.log", siblings=True)
    try:
        assert [(f.label, f.rotated, f.compressed, f.head) for f in files] == [
            ("app.log.2.gz", 2, True, b"two\n"), ("app.log.1", 1, False, b"one\n"), ("app.log", 0, False, b"live\n")]
    finally:
        for f in files:
            f.close()


def test_open_chain_without_a_live_file(tmp_path: Path) -> None:
    (tmp_path / "app.log.1").write_bytes(b"one\n")
    files = open_chain(tmp_path / "app.log", siblings=True)
    try:
        assert [f.label for f in files] == ["app.log.1"]
    finally:
        for f in files:
            f.close()
    assert open_chain(tmp_path / "app.log", siblings=False) == []


def test_open_file_is_a_snapshot_of_its_size(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"x" * (HEAD_BYTES + 10))
    f = open_file(path)
    try:
        with path.open("ab") as out:
            out.write(b"more\n")
        assert f.size == HEAD_BYTES + 10 and f.head == b"x" * HEAD_BYTES
        assert f.pread(HEAD_BYTES, 100) == b"x" * 10 + b"more\n"  # reads are bounded by the caller, not here
    finally:
        f.close()


def test_gzip_reader_reports_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log.1.gz"
    path.write_bytes(gzip.compress(b"line\n" * 1000)[:-20])  # cut short
    f = open_file(path, 1, True)
    try:
        reader = GzipReader(f.fd)
        data = reader.read(0, 1 << 20)
        assert data == b"" and reader.error
    finally:
        f.close()
