"""Export stored results as files: SDF, CSV and a PNG grid for molecules, FASTA for sequences, JSONL.

Convention that makes ``export_result`` work for every tool: a task result keeps its molecules in lists
of objects with a ``"smiles"`` key, and its sequences in lists of objects with a ``"sequence"`` key,
anywhere in its outputs (``{"molecules": [{"smiles": "CCO", "qed": 0.41}, ...]}``; retrosynthesis
candidates may hold ``{"reactants": [{"smiles": ...}]}``). ``find_records`` walks the outputs and
collects those objects in document order.

The other fields of a record become SDF properties, CSV columns, FASTA descriptions and PNG legends:
scalars as they are, lists of scalars joined with ``"; "`` (e.g. PAINS alert names), and the fields of
a nested object (e.g. ``"properties": {...}``) under their own names (``parent.name`` on a clash).

A record whose ``smiles`` (or ``sequence``) is null is another kind of object (a scoring result holds
molecules, proteins and reactions side by side, each with both keys): SDF, PNG and FASTA leave it out
and do not count it. CSV keeps every row. Invalid SMILES are left out of SDF and PNG files and reported
in ``ExportReport.invalid``; CSV keeps their rows with an empty ``canonical_smiles`` column. An SDF,
FASTA or PNG file with nothing in it is refused, not written. Files are written to a temporary name in
the target folder and renamed into place, so a reader never sees half a file.

RDKit (SDF, CSV, PNG) and Biopython (FASTA) are imported only by the format that needs them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from logos_tools.errors import EncodeError, InputError, MissingDependencyError
from logos_tools.grammar.profile import Profile, load_profile
from logos_tools.store.results import ResultStore, to_jsonable

ExportFormat = Literal["sdf", "csv", "fasta", "jsonl", "png"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
MOLECULE_FORMATS = ("sdf", "csv", "png")
SUFFIX_FORMATS: dict[str, ExportFormat] = {
    ".sdf": "sdf",
    ".sd": "sdf",
    ".csv": "csv",
    ".fasta": "fasta",
    ".fa": "fasta",
    ".faa": "fasta",
    ".jsonl": "jsonl",
    ".png": "png",
}
MAX_GRID_MOLECULES = 100
DEFAULT_GRID_MOLECULES = 48
_SEQUENCE = re.compile(r"^[A-Za-z*.\-]+$")

Scalar = str | int | float | bool | None


class InvalidRecord(BaseModel):
    """A record that could not be written as a molecule or sequence, with the reason."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="Position of the record among those found (0-based).")
    value: str = Field(description="The SMILES or sequence as stored.")
    reason: str


class ExportReport(BaseModel):
    """What an export wrote."""

    model_config = ConfigDict(extra="forbid")

    path: str
    format: ExportFormat
    result_id: str | None = None
    records: int = Field(description="Records found (molecules, sequences, or JSONL rows).")
    written: int = Field(description="Records written to the file.")
    invalid: list[InvalidRecord] = Field(
        default_factory=list, description="Records with an invalid SMILES or sequence (CSV keeps them)."
    )
    truncated: int = Field(default=0, description="Valid molecules left out of a PNG grid by its limit.")


def find_records(data: Any, key: str) -> list[dict[str, Any]]:
    """Every object that sits in a list and has ``key`` (e.g. ``"smiles"``), depth first, in order."""
    found: list[dict[str, Any]] = []

    def walk(value: Any, in_list: bool) -> None:
        if isinstance(value, Mapping):
            if in_list and key in value:
                found.append(dict(value))
            for item in value.values():
                walk(item, False)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, True)

    walk(data, False)
    return found


def molecule_records(outputs: Any) -> list[dict[str, Any]]:
    """The molecule records (objects with a ``"smiles"`` key in a list) inside a result's outputs."""
    return find_records(outputs, "smiles")


def sequence_records(outputs: Any) -> list[dict[str, Any]]:
    """The sequence records (objects with a ``"sequence"`` key in a list) inside a result's outputs."""
    return find_records(outputs, "sequence")


def _with_value(records: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The records whose ``key`` is not null (null marks a record of another kind)."""
    return [record for record in records if record.get(key) is not None]


def _first_invalid(invalid: Sequence[InvalidRecord]) -> str:
    if not invalid:
        return "no records"
    first = invalid[0]
    value = first.value if len(first.value) <= 40 else first.value[:37] + "..."
    more = f"; {len(invalid) - 1} more" if len(invalid) > 1 else ""
    return f"e.g. #{first.index} {value!r}: {first.reason}{more}"


def format_from_path(path: Path | str) -> ExportFormat:
    """The export format named by a file suffix (``.sdf``, ``.csv``, ``.fasta``, ``.jsonl``, ``.png``).

    Raises:
        InputError: the suffix names no export format.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise InputError(
            f"Cannot tell the export format from {str(path)!r}: the suffix {suffix or '(none)'!r} is not one "
            f"of {', '.join(SUFFIX_FORMATS)}. Pass the format explicitly ({', '.join(EXPORT_FORMATS)})."
        )
    return SUFFIX_FORMATS[suffix]


def check_format(fmt: str) -> ExportFormat:
    """``fmt`` lower-cased if it is an export format.

    Raises:
        InputError: it is not one of sdf, csv, fasta, jsonl, png.
    """
    lowered = fmt.strip().lower() if isinstance(fmt, str) else fmt
    if lowered in EXPORT_FORMATS:
        return cast(ExportFormat, lowered)
    raise InputError(f"Export format {fmt!r} is not supported. Use one of: {', '.join(EXPORT_FORMATS)}.")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _text(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def record_fields(record: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Scalar]:
    """The flat, scalar fields of a record (see the module docstring), in order.

    Top-level keys in ``skip`` are left out; a nested field with a skipped or already used name keeps
    its ``parent.name`` form, so it never replaces a column the caller writes itself.
    """
    skipped = set(skip)
    flat: dict[str, Scalar] = {}
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in record.items():
        if key in skipped:
            continue
        if _is_scalar(value):
            flat[key] = value
        elif isinstance(value, (list, tuple)) and all(_is_scalar(v) and v is not None for v in value):
            flat[key] = "; ".join(_text(v) for v in value)
        elif isinstance(value, Mapping):
            nested.append((key, value))
    for parent, inner in nested:
        for key, value in record_fields(inner).items():
            taken = key in flat or key in record or key in skipped
            name = f"{parent}.{key}" if taken else key
            flat[name] = value
    return flat


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    On any error the temporary file is removed and ``path`` keeps its old content.

    Raises:
        InputError: ``path`` is a folder, or its folder cannot be created or written.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(
            f"Export path {str(path)!r} is a folder. Pass a file name, e.g. {str(path / 'out')!r}."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the folder of {str(path)!r}: {exc}. Pick a writable path.") from None
    temporary = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"Cannot write {str(path)!r}: {exc}. Pick a writable path.") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _require_rdkit(purpose: str) -> None:
    try:
        import rdkit  # noqa: F401
    except ImportError:
        raise MissingDependencyError("rdkit", "chem", purpose) from None


def _parse_records(
    records: Sequence[Mapping[str, Any]], profile: Profile | None
) -> tuple[list[tuple[int, Mapping[str, Any], Any]], list[InvalidRecord]]:
    """Parse every record's SMILES: (index, record, RDKit mol or None) and the invalid ones."""
    from logos_tools.grammar.molecule import parse_smiles

    parsed: list[tuple[int, Mapping[str, Any], Any]] = []
    invalid: list[InvalidRecord] = []
    for index, record in enumerate(records):
        smiles = record.get("smiles")
        if not isinstance(smiles, str):
            invalid.append(
                InvalidRecord(
                    index=index,
                    value=_text(smiles) if _is_scalar(smiles) else repr(smiles),
                    reason=f"the 'smiles' field is {type(smiles).__name__}, not SMILES text",
                )
            )
            parsed.append((index, record, None))
            continue
        try:
            mol = parse_smiles(smiles, profile=profile)
        except EncodeError as exc:
            invalid.append(InvalidRecord(index=index, value=smiles, reason=str(exc)))
            parsed.append((index, record, None))
            continue
        parsed.append((index, record, mol))
    return parsed, invalid


def write_sdf(
    records: Sequence[Mapping[str, Any]],
    path: Path | str,
    *,
    name_prefix: str = "mol",
    profile: Profile | None = None,
) -> ExportReport:
    """Write molecule records as an SD file with 2D coordinates; other fields become SD properties.

    A record's ``id`` or ``name`` field names the molecule, else ``{name_prefix}-{n}``. Invalid SMILES
    are left out and listed in the report.

    Raises:
        MissingDependencyError: RDKit is not installed.
        InputError: no record can be written (the file would be empty; nothing is written), or the
            file cannot be written.
    """
    _require_rdkit("Writing SD files")
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    from logos_tools.grammar.molecule import rdkit_errors

    parsed, invalid = _parse_records(records, profile)
    target = Path(path)
    written = 0
    with atomic_path(target) as temporary:
        writer = Chem.SDWriter(str(temporary))
        try:
            for index, record, mol in parsed:
                if mol is None:
                    continue
                name = record.get("id", record.get("name"))
                mol.SetProp(
                    "_Name",
                    str(name) if _is_scalar(name) and name is not None else f"{name_prefix}-{index + 1}",
                )
                for key, value in record_fields(record).items():
                    if value is not None and not key.startswith("_"):
                        # A blank line ends an SD property value: keep each value on one line.
                        mol.SetProp(key, " ".join(_text(value).splitlines()))
                try:
                    with rdkit_errors():
                        rdDepictor.Compute2DCoords(mol)
                        writer.write(mol)
                except RuntimeError as exc:
                    reason = f"RDKit cannot write it as a mol block: {exc}"
                    invalid.append(InvalidRecord(index=index, value=str(record["smiles"]), reason=reason))
                    continue
                written += 1
        finally:
            writer.close()
        invalid.sort(key=lambda item: item.index)
        if written == 0:  # raised inside the block, so the temporary file goes and the target stays
            raise InputError(
                f"None of the {len(records)} molecule records has a SMILES that can be written to an SD "
                f"file ({_first_invalid(invalid)}), so the file would be empty. Fix the SMILES, or export "
                "as csv, which keeps every row."
            )
    return ExportReport(
        path=str(target), format="sdf", records=len(records), written=written, invalid=invalid
    )


def write_csv(
    records: Sequence[Mapping[str, Any]], path: Path | str, *, profile: Profile | None = None
) -> ExportReport:
    """Write molecule records as CSV: ``smiles``, ``canonical_smiles``, then every other field.

    Rows with an invalid SMILES are kept with an empty ``canonical_smiles`` and listed in the report.

    Raises:
        MissingDependencyError: RDKit is not installed.
        InputError: the file cannot be written.
    """
    _require_rdkit("Writing canonical SMILES to CSV")
    from logos_tools.grammar.molecule import mol_to_canonical

    active = profile or load_profile()
    parsed, invalid = _parse_records(records, active)
    rows: list[dict[str, Scalar]] = []
    columns: dict[str, None] = {"smiles": None, "canonical_smiles": None}
    for _index, record, mol in parsed:
        smiles = record.get("smiles")
        row: dict[str, Scalar] = {
            "smiles": smiles if _is_scalar(smiles) else repr(smiles),
            "canonical_smiles": mol_to_canonical(mol, active) if mol is not None else None,
        }
        for key, value in record_fields(record, skip=("smiles", "canonical_smiles")).items():
            row[key] = value
            columns.setdefault(key)
        rows.append(row)
    target = Path(path)
    with atomic_path(target) as temporary, temporary.open("x", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        for row in rows:
            writer.writerow([_text(row.get(column)) for column in columns])
    return ExportReport(
        path=str(target), format="csv", records=len(records), written=len(rows), invalid=invalid
    )


def write_fasta(
    records: Sequence[Mapping[str, Any]], path: Path | str, *, id_prefix: str = "seq"
) -> ExportReport:
    """Write sequence records as FASTA.

    The record's ``id`` (or ``name``) is the FASTA id, else ``{id_prefix}_{n}``; its ``description``
    field, or else its other fields as ``key=value``, is the description. Sequences that are not letters
    (plus ``*``, ``-``, ``.``) are left out and listed in the report.

    Raises:
        MissingDependencyError: Biopython is not installed.
        InputError: no record holds a valid sequence (the file would be empty; nothing is written),
            or the file cannot be written.
    """
    try:
        from Bio import SeqIO
        from Bio.Seq import Seq
        from Bio.SeqRecord import SeqRecord
    except ImportError:
        raise MissingDependencyError("biopython", "bio", "Writing FASTA files") from None

    entries: list[SeqRecord] = []
    invalid: list[InvalidRecord] = []
    for index, record in enumerate(records):
        sequence = record.get("sequence")
        if not isinstance(sequence, str) or not _SEQUENCE.match(sequence):
            shown = sequence if isinstance(sequence, str) else repr(sequence)
            invalid.append(
                InvalidRecord(
                    index=index,
                    value=shown,
                    reason="a FASTA sequence must be non-empty letters (and '*', '-', '.') without spaces",
                )
            )
            continue
        name = record.get("id", record.get("name"))
        identifier = (
            re.sub(r"\s+", "_", str(name).strip())
            if _is_scalar(name) and name is not None and str(name).strip()
            else f"{id_prefix}_{index + 1}"
        )
        description = record.get("description")
        if not isinstance(description, str):
            fields = record_fields(record, skip=("sequence", "id", "name", "description"))
            description = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if v is not None)
        entries.append(SeqRecord(Seq(sequence), id=identifier, description=" ".join(description.split())))
    if not entries:
        raise InputError(
            f"None of the {len(records)} sequence records holds a valid sequence "
            f"({_first_invalid(invalid)}), so the FASTA file would be empty. Fix the sequences, or read "
            "the whole result as JSON to see them."
        )
    target = Path(path)
    with atomic_path(target) as temporary, temporary.open("x", encoding="utf-8") as handle:
        SeqIO.write(entries, handle, "fasta")
    return ExportReport(
        path=str(target), format="fasta", records=len(records), written=len(entries), invalid=invalid
    )


def write_jsonl(rows: Iterable[Mapping[str, Any] | BaseModel], path: Path | str) -> ExportReport:
    """Write one strict-JSON object per line (pydantic models are dumped in JSON mode).

    Raises:
        InputError: a row holds a value JSON cannot represent, or the file cannot be written.
    """
    lines = [
        json.dumps(to_jsonable(row, f"row {i}"), ensure_ascii=False, allow_nan=False)
        for i, row in enumerate(rows)
    ]
    target = Path(path)
    with atomic_path(target) as temporary, temporary.open("x", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
    return ExportReport(path=str(target), format="jsonl", records=len(lines), written=len(lines))


def legend_fields(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The fields a PNG legend can show: every flat field of any record, in first-seen order."""
    fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record_fields(record)))
    return list(fields)


def check_legend(records: Sequence[Mapping[str, Any]], legend: str) -> str:
    """``legend`` if some record has that field (a record without it gets an empty legend).

    Raises:
        InputError: no record has the field; the message lists the fields there are.
    """
    fields = legend_fields(records)
    if legend in fields:
        return legend
    shown = ", ".join(fields[:30]) + (f", ... ({len(fields) - 30} more)" if len(fields) > 30 else "")
    raise InputError(
        f"Legend field {legend!r} is not a field of these molecule records. Pass one of: {shown}; "
        "or no legend."
    )


def _legend(record: Mapping[str, Any], field: str | None) -> str:
    if field is None:
        return ""
    value = record_fields(record).get(field)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{field} {value:.3g}"
    if isinstance(value, (int, bool)) and field != "smiles":
        return f"{field} {_text(value)}"
    return str(value)


def write_png(
    records: Sequence[Mapping[str, Any]],
    path: Path | str,
    *,
    legend: str | None = None,
    max_molecules: int = DEFAULT_GRID_MOLECULES,
    per_row: int = 4,
    cell_size: tuple[int, int] = (300, 300),
    profile: Profile | None = None,
) -> ExportReport:
    """Draw the first ``max_molecules`` valid molecules as a PNG grid (RDKit ``MolsToGridImage``).

    ``legend`` names the record field shown under each molecule (e.g. ``"qed"`` or ``"id"``); it must
    be a field of at least one record (see ``legend_fields``).

    Raises:
        InputError: an unknown legend field, no valid molecule to draw, a limit out of range, or the
            file cannot be written.
        MissingDependencyError: RDKit or Pillow is not installed.
    """
    if not 1 <= max_molecules <= MAX_GRID_MOLECULES:
        raise InputError(
            f"max_molecules={max_molecules} is out of range: a grid holds 1 to {MAX_GRID_MOLECULES} "
            f"molecules. Pass e.g. {DEFAULT_GRID_MOLECULES}."
        )
    if per_row < 1 or min(cell_size) < 50 or max(cell_size) > 2000:
        raise InputError(
            f"Grid layout per_row={per_row}, cell_size={cell_size} is out of range: use at least one "
            "molecule per row and cells of 50 to 2000 pixels, e.g. per_row=4, cell_size=(300, 300)."
        )
    if legend is not None:
        check_legend(records, legend)
    _require_rdkit("Drawing molecules")
    try:
        import PIL  # noqa: F401  (RDKit draws grids into Pillow images)
    except ImportError:
        raise MissingDependencyError("Pillow", "chem", "Drawing a PNG grid of molecules") from None
    from rdkit.Chem import Draw

    from logos_tools.grammar.molecule import rdkit_errors

    parsed, invalid = _parse_records(records, profile)
    drawable = [(record, mol) for _index, record, mol in parsed if mol is not None]
    if not drawable:
        raise InputError(
            f"None of the {len(records)} molecule records has a valid SMILES ({_first_invalid(invalid)}), "
            "so there is nothing to draw. Fix the SMILES, or export as csv, which keeps every row."
        )
    shown = drawable[:max_molecules]
    with rdkit_errors():
        image = Draw.MolsToGridImage(  # type: ignore[no-untyped-call]
            [mol for _record, mol in shown],
            molsPerRow=per_row,
            subImgSize=cell_size,
            legends=[_legend(record, legend) for record, _mol in shown],
            returnPNG=False,
        )
    target = Path(path)
    with atomic_path(target) as temporary:
        if isinstance(image, bytes):  # RDKit returns PNG bytes in some notebook settings
            temporary.write_bytes(image)
        else:
            with temporary.open("xb") as handle:
                image.save(handle, format="PNG")
    return ExportReport(
        path=str(target),
        format="png",
        records=len(records),
        written=len(shown),
        invalid=invalid,
        truncated=len(drawable) - len(shown),
    )


def _formats_holding(outputs: Any) -> str:
    """The export formats that would hold records of these outputs, e.g. ``fasta (2 sequences), ...``."""
    found = molecule_records(outputs)
    molecules = len(_with_value(found, "smiles"))
    sequences = len(_with_value(sequence_records(outputs), "sequence"))
    formats = []
    if molecules:
        formats.append(f"sdf, png ({molecules} molecule{'' if molecules == 1 else 's'})")
    if found:
        formats.append(f"csv (a table of {len(found)} record{'' if len(found) == 1 else 's'})")
    if sequences:
        formats.append(f"fasta ({sequences} sequence{'' if sequences == 1 else 's'})")
    formats.append("jsonl (the whole result as JSON)")
    return ", ".join(formats)


def export_result(
    store: ResultStore,
    result_id: str,
    fmt: str,
    path: Path | str,
    *,
    legend: str | None = None,
    max_molecules: int = DEFAULT_GRID_MOLECULES,
    profile: Profile | None = None,
) -> ExportReport:
    """Export one stored result: its molecules (sdf, csv, png), sequences (fasta), or all of it (jsonl).

    JSONL writes the whole stored result (provenance and outputs) as one line. SDF, PNG and FASTA
    leave out records whose ``smiles`` (``sequence``) is null; CSV keeps them as rows.

    Raises:
        InputError: a malformed id, an unknown format, a legend for another format than png, a result
            without records of the needed kind, an SDF, PNG or FASTA file that would be empty (nothing
            is written then), or a file that cannot be written.
        ResultNotFoundError: no stored result has that id.
        MissingDependencyError: the format's library (RDKit, Pillow, Biopython) is not installed.
    """
    export_format = check_format(fmt)
    if legend is not None and export_format != "png":
        raise InputError(
            f"A legend ({legend!r}) only applies to png grids, and this export is {export_format}. "
            "Drop the legend, or export as png."
        )
    result = store.get(result_id)
    report: ExportReport
    if export_format == "jsonl":
        return write_jsonl([result], path).model_copy(update={"result_id": result.id})
    if export_format == "fasta":
        key, noun = "sequence", "sequences"
        records = _with_value(sequence_records(result.outputs), key)
    else:
        key, noun = "smiles", "molecules"
        found = molecule_records(result.outputs)
        records = found if export_format == "csv" else _with_value(found, key)
    if not records:
        rule = f"a {key!r} key" if export_format == "csv" else f"a non-null {key!r}"
        raise InputError(
            f"Result {result.id} ({result.tool}) holds no {noun} (objects in a list with {rule}), so "
            f"there is nothing to write as {export_format}. Formats that hold its records: "
            f"{_formats_holding(result.outputs)}. Export it as one of those, or pick a result with {noun}."
        )
    if export_format == "fasta":
        report = write_fasta(records, path, id_prefix=result.id)
    elif export_format == "sdf":
        report = write_sdf(records, path, name_prefix=result.id, profile=profile)
    elif export_format == "csv":
        report = write_csv(records, path, profile=profile)
    else:
        report = write_png(records, path, legend=legend, max_molecules=max_molecules, profile=profile)
    return report.model_copy(update={"result_id": result.id})
