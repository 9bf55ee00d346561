"""Crash-safe file writes: every output is written under a temporary name and renamed into place.

``os.replace`` is atomic on POSIX and Windows when both names are on one file system, so a reader
sees either the old file or the complete new one, never a partial write, and a failed conversion
leaves no half-written GGUF behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from logos_tools.errors import InputError


@contextlib.contextmanager
def temporary_output(final_path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final_path``; rename it into place when the block succeeds.

    The temporary file is removed when the block raises, so no partial output survives an error.

    Raises:
        OSError: the folder cannot be written.
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final_path.name}.", suffix=".partial", dir=final_path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    # mkstemp creates the file owner-only; model files and the registry are ordinary user files.
    os.chmod(tmp_path, 0o644)
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    finally:
        # After a successful replace the temporary name no longer exists.
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, flushed to disk before the rename.

    Raises:
        OSError: the folder cannot be written.
    """
    with temporary_output(path) as tmp_path, open(tmp_path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def check_output_file(path: Path) -> Path:
    """``path`` (expanded) once it can take a new file: not a folder, with its folder created.

    Raises:
        InputError: ``path`` is a folder, or its folder cannot be created (e.g. a file is in the way).
    """
    path = path.expanduser()
    if path.is_dir():
        raise InputError(f"Output {path} is a folder. Pass a file path in it, e.g. {path / 'model.gguf'}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Cannot create the folder {path.parent} for output {path}: {exc.strerror or exc}. "
            "Write to a path whose folders are folders (not files) and writable."
        ) from None
    return path
