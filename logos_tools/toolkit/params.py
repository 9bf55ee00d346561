"""Parameter types shared by the tools; their descriptions are what an agent reads."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
        description="Return what is ready after this many seconds, flagged partial (default 45).",
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
