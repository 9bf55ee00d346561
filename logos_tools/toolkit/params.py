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
