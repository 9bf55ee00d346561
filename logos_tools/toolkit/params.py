"""Parameter types shared by the tools; their descriptions are what an agent reads."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


def _residue_number_text(value: Any) -> str:
    """Residue numbers arrive as JSON numbers (25) or text ('25', '100A'); the structure reads text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise PydanticCustomError(
        "residue_number",
        "Input should be a residue number such as 25 or '100A', not {kind}",
        {"kind": _kind(value)},
    )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    return "a number with a fraction" if isinstance(value, float) else f"a {type(value).__name__}"


Seed = Annotated[
    int | None,
    Field(ge=0, le=2**31 - 1, description="Random seed; pass the seed of an earlier result to repeat it."),
]
Temperature = Annotated[
    float | None,
    Field(ge=0, le=3, description="Sampling temperature (default: LOGOS reference 1.2; 0 = greedy)."),
]
TimeBudget = Annotated[
    float | None,
    Field(
        ge=1,
        le=3600,
        description="Return what is ready after this many seconds, flagged partial (default: LOGOS_TIME_BUDGET_S, 45 unless set).",
    ),
]
StructurePath = Annotated[
    str | None, Field(description="Path of a PDB or mmCIF file inside the server's allowed folders.")
]
Chain = Annotated[str | None, Field(max_length=4, description="Protein chain id in the structure, e.g. 'A'.")]
NumSamples = Annotated[
    int | None, Field(ge=1, le=256, description="Samples to draw (default: the LOGOS reference count).")
]
MaxSamples = Annotated[
    int | None, Field(ge=1, le=5000, description="Most samples to draw while filling the request.")
]
MinQED = Annotated[float | None, Field(ge=0, le=1, description="Keep molecules with QED >= this.")]
MaxMW = Annotated[float | None, Field(gt=0, description="Keep molecules with molecular weight <= this.")]
MaxSA = Annotated[float | None, Field(ge=1, le=10, description="Keep molecules with SA score <= this.")]
Lipinski = Annotated[bool, Field(description="Keep only molecules passing Lipinski's rule of five.")]
NoPains = Annotated[bool, Field(description="Drop molecules with PAINS alerts.")]
# One check for both kinds, not pydantic's ``str | int`` union: that would report a bad item once per
# member, under pydantic's internal member names. Validated items are always text.
ResidueNumber = Annotated[
    str | int,
    PlainValidator(_residue_number_text),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
]
