"""File inputs are confined to allowed roots: an agent must not read arbitrary files of the host."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from logos_tools.errors import InputError, PathNotAllowedError

MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024


def resolve_input_file(raw: str, roots: Sequence[Path], *, what: str = "structure file") -> Path:
    """The real path of ``raw`` if it is a readable file inside one of ``roots``.

    A relative path is taken from the current folder when a file is there, else from the first root
    that holds it, else from the first root (for the error message). Symlinks are resolved before the
    check, so a link cannot lead outside the roots.

    Raises:
        PathNotAllowedError: the file lies outside every allowed root.
        InputError: the file does not exist, is not a regular file, or is too large.
    """
    if not raw or not raw.strip():
        raise InputError(f"The {what} path is empty. Pass the path of a PDB or mmCIF file.")
    resolved = _locate(Path(raw).expanduser(), roots)
    if not any(resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots) or "none"
        raise PathNotAllowedError(
            f"The {what} {raw!r} resolves to {resolved}, outside the folders this server may read "
            f"({shown}). Move the file into one of them, or add its folder to LOGOS_ALLOWED_ROOTS."
        )
    if not resolved.is_file():
        raise InputError(f"The {what} {raw!r} does not exist or is not a file ({resolved}). Check the path.")
    size = resolved.stat().st_size
    if size > MAX_INPUT_FILE_BYTES:
        raise InputError(
            f"The {what} {raw!r} is {size / 1e6:.1f} MB, over the {MAX_INPUT_FILE_BYTES // 2**20} MiB limit. "
            "Pass a smaller file (e.g. only the chains you need)."
        )
    return resolved


def _locate(path: Path, roots: Sequence[Path]) -> Path:
    """The resolved file ``path`` names; relative ones as ``resolve_input_file`` says."""
    if path.is_absolute() or not roots:
        return path.resolve()
    # A shell user means the current folder; an agent, whose server runs anywhere, means a root.
    # A file inside the roots wins; one outside them is returned only so the refusal can name it.
    found = [(base / path).resolve() for base in (Path.cwd(), *roots)]
    files = [candidate for candidate in found if candidate.is_file()]
    allowed = [f for f in files if any(f.is_relative_to(root) for root in roots)]
    return (allowed or files or [(roots[0] / path).resolve()])[0]
