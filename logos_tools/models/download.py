"""Download a LOGOS checkpoint from the Hugging Face Hub, explicitly, resumably and hash-checked.

Nothing here runs implicitly: only ``logos model pull ID`` calls it. ``huggingface_hub`` resumes
interrupted downloads from its partial files in the destination folder; after the download every
file is checked against the Hub's own hashes (sha256 for LFS weight files, the git blob sha1 for
small files). Offline use (``HF_HUB_OFFLINE=1``, or no network) fails with a message saying what to do.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from logos_tools.errors import (
    InputError,
    MissingDependencyError,
    ModelError,
    ModelFileError,
    ModelNotFoundError,
)
from logos_tools.models.digest import sha256_file

logger = logging.getLogger(__name__)

ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.md", "tokenizer*"]
_NETWORK_ERRORS = {"TransportError", "NetworkError", "TimeoutException", "ConnectError", "ConnectTimeout"}


class PullReport(BaseModel):
    """What ``pull_checkpoint`` downloaded and checked."""

    model_config = ConfigDict(frozen=True)

    repo_id: str
    revision: str | None
    folder: str
    files: list[str]
    total_bytes: int
    verified_files: int
    elapsed_s: float


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _map_hub_error(exc: Exception, repo_id: str, folder: Path) -> Exception:
    from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

    has_partial = folder.is_dir() and any(folder.iterdir())
    resume = f"Partial files in {folder} are kept; the next pull resumes them." if has_partial else ""
    if isinstance(exc, OfflineModeIsEnabled):
        return ModelError(
            f"Cannot download {repo_id}: offline mode is on (HF_HUB_OFFLINE=1), and logos-tools never "
            "downloads implicitly. Unset HF_HUB_OFFLINE and run `logos model pull` again, or copy the "
            f"checkpoint folder from another machine to {folder} and run `logos model convert`."
        )
    if isinstance(exc, GatedRepoError):
        return ModelError(
            f"{repo_id} is gated on the Hugging Face Hub: accept its terms on the model page, log in with "
            "`hf auth login`, and pull again."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return ModelNotFoundError(
            f"The Hugging Face Hub has no repository {repo_id!r} (or it is private). Check the id; "
            "`logos model list` shows the known LOGOS checkpoints."
        )
    if isinstance(exc, (ConnectionError, TimeoutError)) or any(
        cls.__name__ in _NETWORK_ERRORS for cls in type(exc).__mro__
    ):
        return ModelError(
            f"Cannot reach the Hugging Face Hub to download {repo_id} ({exc}). Check the network connection "
            f"(or HF_ENDPOINT / proxy settings) and pull again. {resume}".rstrip()
        )
    return ModelError(f"Downloading {repo_id} failed: {exc}. {resume}".rstrip())


def pull_checkpoint(repo_id: str, dest_root: Path, *, revision: str | None = None) -> PullReport:
    """Download the safetensors checkpoint ``repo_id`` into ``dest_root/<name>`` and check hashes.

    Progress bars (from huggingface_hub) go to stderr.

    Raises:
        InputError: ``repo_id`` is not of the form owner/name.
        MissingDependencyError: huggingface_hub is not installed.
        ModelNotFoundError: the Hub has no such repository.
        ModelError: offline, the Hub cannot be reached, the repository is gated, or the download failed.
        ModelFileError: a downloaded file does not match the Hub's hash.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(
            f"{repo_id!r} is not a Hugging Face repository id. Use owner/name, e.g. LOGOS-Hub/LOGOS-pretrain-1B."
        )
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError:
        raise MissingDependencyError("huggingface-hub", "convert", "Downloading checkpoints") from None
    folder = dest_root.expanduser() / repo_id.split("/")[1]
    started = time.perf_counter()
    try:
        info: Any = HfApi().model_info(repo_id, revision=revision, files_metadata=True)
        folder.mkdir(parents=True, exist_ok=True)
        snapshot_download(repo_id, revision=revision, local_dir=folder, allow_patterns=ALLOW_PATTERNS)
    except Exception as exc:  # mapped at this boundary: the Hub raises many unrelated types
        raise _map_hub_error(exc, repo_id, folder) from None
    wanted = [s for s in info.siblings or [] if any(fnmatch.fnmatch(s.rfilename, p) for p in ALLOW_PATTERNS)]
    verified = 0
    total = 0
    for sibling in wanted:
        path = folder / sibling.rfilename
        if not path.is_file():
            raise ModelFileError(
                f"{sibling.rfilename} of {repo_id} was not downloaded to {folder}. Run `logos model pull` again."
            )
        total += path.stat().st_size
        lfs = getattr(sibling, "lfs", None)
        expected = getattr(lfs, "sha256", None) if lfs is not None else None
        if expected:
            actual = sha256_file(path)
        elif getattr(sibling, "blob_id", None):
            expected, actual = sibling.blob_id, _git_blob_sha1(path)
        else:
            continue
        if actual != expected:
            raise ModelFileError(
                f"{path} does not match the Hub's hash ({actual[:12]}... instead of {expected[:12]}...): the "
                "download is corrupt. Delete that file and run `logos model pull` again."
            )
        verified += 1
    return PullReport(
        repo_id=repo_id,
        revision=revision,
        folder=str(folder),
        files=sorted(s.rfilename for s in wanted),
        total_bytes=total,
        verified_files=verified,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
