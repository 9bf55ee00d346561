"""Split LOGOS text into tags, blocks and stray text, the way models really emit it.

The splitter never guesses: a block cut off by the token limit is returned with ``complete=False``
(truncated, never silently accepted), text outside any block is kept as ``stray``, base-model
BOS strings are dropped, and the first base-model end string ends the answer. Structural errors
(an end tag with no open block, a block opened where it may not be) raise ``DecodeError`` with the
character position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from logos_tools.errors import DecodeError, EncodeError
from logos_tools.grammar.profile import BlockKind, Profile

# Which block kinds may be opened directly inside which (None = top level).
_ALLOWED_CHILDREN: dict[BlockKind | None, frozenset[BlockKind]] = {
    None: frozenset({"molecule", "protein", "antibody", "material"}),
    "protein": frozenset({"pocket"}),
    "material": frozenset({"metal", "molecule"}),
    "molecule": frozenset(),
    "pocket": frozenset(),
    "antibody": frozenset(),
    "metal": frozenset(),
}
_TAG_LIKE = re.compile(r"<\|?[A-Za-z_/][A-Za-z0-9_/\-]{0,40}\|?>")


@dataclass
class Block:
    """One tagged block: its kind, raw inner text, nested blocks and where it sits in the text."""

    kind: BlockKind
    content: str
    start: int
    end: int
    complete: bool
    children: list[Block] = field(default_factory=list)
    plain: str = ""  # inner text with the tags of nested blocks removed (a pocket protein's sequence)


@dataclass
class Stray:
    """Text found outside any block."""

    text: str
    start: int


@dataclass
class TaskMarker:
    """A task token (``<ReverseReact>``, ``<React>``, ``<Search>``, ``<Trans>``)."""

    name: str
    token: str
    start: int


@dataclass
class Parsed:
    """The result of splitting a text: top-level items in order, plus what was dropped."""

    items: list[Block | TaskMarker | Stray]
    ended_by: str | None = None  # the base-model end string that stopped parsing, if any
    trailing: str = ""  # text after that end string

    @property
    def blocks(self) -> list[Block]:
        """Top-level blocks, complete or not."""
        return [item for item in self.items if isinstance(item, Block)]

    @property
    def stray(self) -> list[Stray]:
        """Stray text outside blocks."""
        return [item for item in self.items if isinstance(item, Stray)]

    @property
    def truncated(self) -> bool:
        """True when the last block has no end tag (the generation hit its token limit)."""
        return any(not block.complete for block in self.blocks)

    def after_task(self, name: str) -> list[Block | TaskMarker | Stray]:
        """Items after the first task token ``name`` (the answer of a task prompt + completion).

        Raises:
            DecodeError: the task token is absent.
        """
        for index, item in enumerate(self.items):
            if isinstance(item, TaskMarker) and item.name == name:
                return self.items[index + 1 :]
        raise DecodeError(f"No {name} task token found in the text; the answer must follow it.")


class _Lexicon:
    """Tag lookup tables of a profile, compiled once."""

    def __init__(self, profile: Profile) -> None:
        self.opening: dict[str, BlockKind] = {start: kind for kind, (start, _) in profile.tags.items()}
        self.closing: dict[str, BlockKind] = {end: kind for kind, (_, end) in profile.tags.items()}
        self.task: dict[str, str] = {token: name for name, token in profile.task_tokens.items()}
        self.bos = frozenset(profile.base_tokens.bos)
        self.end = frozenset(profile.base_tokens.end)
        every = sorted(
            [*self.opening, *self.closing, *self.task, *self.bos, *self.end], key=len, reverse=True
        )
        self.pattern = re.compile("|".join(re.escape(token) for token in every))


_LEXICONS: dict[int, _Lexicon] = {}


def _lexicon(profile: Profile) -> _Lexicon:
    key = id(profile)
    lexicon = _LEXICONS.get(key)
    if lexicon is None:
        lexicon = _LEXICONS[key] = _Lexicon(profile)
    return lexicon


def parse_blocks(text: str, profile: Profile) -> Parsed:
    """Split ``text`` into top-level blocks, task markers and stray text.

    Raises:
        DecodeError: an end tag closes nothing or the wrong block, or a block is opened where the
            grammar does not allow it (e.g. a molecule inside a protein). The error carries the position.
    """
    lex = _lexicon(profile)
    items: list[Block | TaskMarker | Stray] = []
    stack: list[tuple[Block, int]] = []  # open blocks and the offset where their content starts
    cursor = 0
    parsed = Parsed(items=items)

    def emit_text(piece: str, at: int) -> None:
        if not piece:
            return
        if not stack:
            items.append(Stray(text=piece, start=at))
        for open_block, _ in stack:
            open_block.plain += piece

    answer_end = len(text)
    for match in lex.pattern.finditer(text):
        token, pos = match.group(), match.start()
        emit_text(text[cursor:pos], cursor)
        cursor = match.end()
        if token in lex.bos:
            continue
        if token in lex.end:
            parsed.ended_by, parsed.trailing, answer_end = token, text[cursor:], pos
            break
        if token in lex.task:
            if stack:
                raise DecodeError(
                    f"Task token {token} at position {pos} appears inside an open "
                    f"{stack[-1][0].kind} block; task tokens only stand between blocks.",
                    position=pos,
                    text=text,
                )
            items.append(TaskMarker(name=lex.task[token], token=token, start=pos))
            continue
        if token in lex.opening:
            kind = lex.opening[token]
            parent = stack[-1][0].kind if stack else None
            if kind not in _ALLOWED_CHILDREN[parent]:
                where = f"inside a {parent} block" if parent else "at the top level"
                raise DecodeError(
                    f"{token} at position {pos} opens a {kind} block {where}, which the LOGOS grammar "
                    "does not allow.",
                    position=pos,
                    text=text,
                )
            block = Block(kind=kind, content="", start=pos, end=pos, complete=False)
            (stack[-1][0].children if stack else items).append(block)
            stack.append((block, cursor))
            continue
        kind = lex.closing[token]
        if not stack or stack[-1][0].kind != kind:
            open_kind = stack[-1][0].kind if stack else "no"
            raise DecodeError(
                f"{token} at position {pos} closes a {kind} block, but {open_kind} block is open.",
                position=pos,
                text=text,
            )
        block, content_start = stack.pop()
        block.content = text[content_start:pos]
        block.end = cursor
        block.complete = True
    else:
        emit_text(text[cursor:], cursor)
    # Blocks left open ran into the token limit (or the end string): keep what they hold, incomplete.
    for block, content_start in stack:
        block.content = text[content_start:answer_end]
        block.end = answer_end
    return parsed


def check_no_tags(value: str, what: str, profile: Profile) -> None:
    """Reject a user value that contains a LOGOS tag or tag-like text.

    User values are pasted inside blocks; a value holding ``<MoleculeE>`` could close a block early
    and inject its own prompt, so such values never reach a prompt.

    Raises:
        EncodeError: the value contains a tag or text shaped like one.
    """
    lex = _lexicon(profile)
    found = lex.pattern.search(value) or _TAG_LIKE.search(value)
    if found:
        raise EncodeError(
            f"The {what} {_shorten(value)!r} contains {found.group()!r} at position {found.start()}. "
            "Values must not contain LOGOS tags or tag-like text (<...>); pass the bare "
            f"{what} without markup."
        )


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
