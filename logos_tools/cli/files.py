"""Files a command writes: never over an existing file unless asked, never into a folder that is not there."""

from __future__ import annotations

from pathlib import Path

import click

from logos_tools.errors import InputError

force_option = click.option("--force", is_flag=True, help="Replace the output file if it already exists.")


def check_output_file(path: Path, *, force: bool, what: str = "--out") -> Path:
    """``path`` (user home expanded) once it is safe to write: its folder exists, and it is not a file
    already there unless ``force``.

    A typo in a folder name would otherwise create a stray folder tree, and a repeated command would
    silently replace an earlier export or a converted model.

    Raises:
        InputError: the path is a folder, its folder does not exist, or the file exists without ``force``.
    """
    target = path.expanduser()
    if target.is_dir():
        raise InputError(
            f"{what} {str(path)!r} is a folder. Pass a file name in it, e.g. {str(target / 'out')!r}."
        )
    folder = target.parent
    if not folder.is_dir():
        raise InputError(
            f"{what} {str(path)!r} is in the folder {str(folder)!r}, which does not exist. "
            f"Create it first (mkdir -p {folder}) or write elsewhere."
        )
    if target.exists() and not force:
        raise InputError(
            f"{what} {str(path)!r} already exists. Pass --force to replace it, or pick another file name."
        )
    return target
