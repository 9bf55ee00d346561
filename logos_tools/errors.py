"""The one exception tree of logos-tools.

Every error a caller can meet is a ``LogosError``; third-party errors are mapped at the boundary
that calls the third-party library. Messages name the bad value, the rule it broke and the fix.

    LogosError
    ├── InputError                 a user-supplied value breaks a rule (also a ValueError)
    │   ├── EncodeError            the value cannot be written in the LOGOS grammar
    │   └── PathNotAllowedError    a file path outside the allowed roots
    ├── DecodeError                model or user text is not valid grammar (carries the position)
    ├── ProfileError               the grammar profile file is malformed
    ├── ModelError
    │   ├── ModelNotFoundError     no registered model or file by that name
    │   └── ModelFileError         the file is not a usable GGUF (corrupt, truncated, wrong kind)
    ├── ConversionError            an HF checkpoint cannot be converted or verified
    ├── BackendError               the inference backend failed
    │   └── BackendUnavailableError  a server cannot be reached or serves another model
    ├── GenerationCancelled        the caller cancelled a running generation
    ├── ResultNotFoundError        no stored result or job with that id
    └── MissingDependencyError     an optional extra is not installed (carries the pip hint)
"""

from __future__ import annotations


class LogosError(Exception):
    """Base of every error raised by logos-tools."""


class InputError(LogosError, ValueError):
    """A value given by the user breaks a rule; the message says which and how to fix it."""


class EncodeError(InputError):
    """A value cannot be encoded as a LOGOS grammar block."""


class PathNotAllowedError(InputError):
    """A file path lies outside the roots this process may read."""


class DecodeError(LogosError, ValueError):
    """Text is not valid LOGOS grammar.

    Attributes:
        position: character offset in ``text`` where decoding failed, or None when not local.
        text: the text that failed (possibly shortened by the caller).
    """

    def __init__(self, message: str, *, position: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.text = text


class ProfileError(LogosError):
    """The grammar profile file is missing a key or holds an invalid value."""


class ModelError(LogosError):
    """A model cannot be found or used."""


class ModelNotFoundError(ModelError):
    """No registered model, known checkpoint or file matches the given name."""


class ModelFileError(ModelError):
    """A file is not a usable GGUF model (corrupt, truncated, not GGUF, wrong hash)."""


class ConversionError(LogosError):
    """A Hugging Face checkpoint cannot be converted to GGUF, or verification failed."""


class BackendError(LogosError):
    """The inference backend failed while loading, decoding or sampling."""


class BackendUnavailableError(BackendError):
    """A remote inference server cannot be reached, or it serves a different model."""


class GenerationCancelled(LogosError):
    """A generation was cancelled by its caller between two decode steps."""


class ResultNotFoundError(LogosError):
    """No stored result or job has the given id."""


class MissingDependencyError(LogosError, ImportError):
    """An optional dependency is not installed.

    Attributes:
        extra: the logos-tools extra that provides it (``pip install 'logos-tools[extra]'``).
    """

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package {package!r}, which is not installed. "
            f"Install it with: pip install 'logos-tools[{extra}]'"
        )
        self.package = package
        self.extra = extra
