"""SHA-256 of model files, streamed, and cached by (path, size, mtime) so a 3 GB GGUF is hashed once.

The cache is a small JSON file (normally ``LOGOS_HOME/sha256-cache.json``, next to the registry).
An entry is reused only while the file keeps the same size and modification time; any rewrite of
the file changes its mtime and forces a fresh hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from logos_tools.errors import ModelFileError
from logos_tools.models.atomic import atomic_write_text

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_CACHE_LOCK = threading.Lock()


def _read_cache(cache_path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(cache_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged cache only costs a re-hash; it is rewritten below.
        logger.warning("sha256 cache %s is unreadable; starting a new one", cache_path)
        return {}
    return data if isinstance(data, dict) else {}


def sha256_file(path: Path, *, cache_path: Path | None = None) -> str:
    """Hex SHA-256 of a file, read in 8 MiB chunks; reuse or record it in ``cache_path`` when given.

    Raises:
        ModelFileError: the file cannot be read.
    """
    resolved = path.expanduser().resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise ModelFileError(
            f"Cannot read {path}: {exc.strerror}. Check the path and its permissions."
        ) from None
    key = str(resolved)
    if cache_path is not None:
        with _CACHE_LOCK:
            entry = _read_cache(cache_path).get(key)
        if (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(entry.get("sha256"), str)
        ):
            return str(entry["sha256"])
    digest = hashlib.sha256()
    try:
        with open(resolved, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelFileError(
            f"Cannot read {path}: {exc.strerror}. Check the path and its permissions."
        ) from None
    hexdigest = digest.hexdigest()
    if cache_path is not None:
        with _CACHE_LOCK:
            cache = _read_cache(cache_path)
            cache[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": hexdigest}
            # Forget files that no longer exist so the cache does not grow forever.
            cache = {name: value for name, value in cache.items() if Path(name).exists()}
            try:
                atomic_write_text(cache_path, json.dumps(cache, indent=1, sort_keys=True))
            except OSError as exc:
                logger.warning("cannot write sha256 cache %s: %s", cache_path, exc)
    return hexdigest
