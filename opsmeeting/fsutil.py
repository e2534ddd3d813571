"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _atomic_file(path: Path, mode: str, **options: Any) -> Iterator[IO[Any]]:
    """A file open on a temporary name beside ``path``; when the block ends it is fsynced and renamed
    over ``path`` (on an error it is removed and ``path`` is left as it was). The file gets the
    permissions a plain ``open()`` would give (mkstemp's are owner-only), so a web server can serve
    the archive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    with _atomic_file(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """``atomic_write_text`` of the text ``chunks`` make, written as they come (a 2,000-service
    scorecards.json is never one string in memory)."""
    with _atomic_file(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as handle:
        for chunk in chunks:
            handle.write(chunk)


@contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path`` whole.

    On failure the temporary directory is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(directory: Path) -> list[Path]:
    """Remove temporary files and folders a killed writer left in ``directory`` (``.*.tmp``, ``.*.old-*``)."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in [*directory.glob(".*.tmp"), *directory.glob(".*.old-*")]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
