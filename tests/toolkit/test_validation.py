"""Tool argument validation: no silent coercion of booleans, readable messages for every bad argument."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from logos_tools.errors import InputError
from logos_tools.runtime.fake import ScriptedBackend
from logos_tools.settings import Settings
from logos_tools.toolkit import Toolkit
from logos_tools.toolkit.validation import tool


class _Tools:
    """A minimal tool owner: the checks live in ``tool`` itself, whatever the method does."""

    @tool
    def pick(
        self,
        count: Annotated[int | None, Field(ge=1, le=10)] = None,
        weight: float = 1.0,
        strict: bool = False,
        positions: list[int] | None = None,
    ) -> dict[str, Any]:
        """Return the arguments as they arrived."""
        return {"count": count, "weight": weight, "strict": strict, "positions": positions}


TOOLS = _Tools()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": True}, "count=True: Input should be an integer, not true or false (a boolean)"),
        ({"weight": False}, "weight=False: Input should be a number, not true or false (a boolean)"),
        ({"strict": "yes"}, "strict='yes': Input should be true or false (a JSON boolean), not a string"),
        ({"strict": "true"}, "strict='true': Input should be true or false (a JSON boolean), not a string"),
        ({"strict": 1}, "strict=1: Input should be true or false (a JSON boolean), not a number"),
        ({"positions": [3, True]}, "positions.1=True: Input should be an integer, not true or false"),
    ],
)
def test_booleans_are_not_numbers_and_text_is_not_a_boolean(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(
        InputError, match=r"^Invalid arguments: .*Fix these values and call again\.$"
    ) as caught:
        TOOLS.pick(**arguments)
    assert message in str(caught.value)


def test_every_bad_argument_is_named_in_one_message() -> None:
    with pytest.raises(InputError) as caught:
        TOOLS.pick(count=True, strict="no")  # type: ignore[arg-type]
    assert "count=True: " in str(caught.value)
    assert "strict='no': " in str(caught.value)


@given(
    count=st.integers(1, 10),
    weight=st.integers(-1000, 1000) | st.floats(allow_nan=False),
    strict=st.booleans(),
)
def test_integers_floats_and_booleans_of_the_right_kind_pass_unchanged(
    count: int, weight: float, strict: bool
) -> None:
    assert TOOLS.pick(count=count, weight=weight, strict=strict) == {
        "count": count,
        "weight": weight,
        "strict": strict,
        "positions": None,
    }


def test_range_rules_still_apply_after_the_boolean_check() -> None:
    with pytest.raises(InputError, match=r"count=0: Input should be greater than or equal to 1"):
        TOOLS.pick(count=0)


def test_an_empty_argument_name_is_quoted_in_the_refusal() -> None:
    nameless: dict[str, Any] = {"": 5}
    with pytest.raises(InputError) as caught:
        TOOLS.pick(**nameless)
    assert (
        str(caught.value)
        == "Invalid arguments: '' is not an argument of this tool. Fix these values and call again."
    )


def test_toolkit_tools_refuse_true_as_a_count_and_yes_as_a_flag(isolated_home: Path) -> None:
    toolkit = Toolkit(Settings(home=isolated_home), backend=ScriptedBackend(["CCO<MoleculeE>"]))
    with pytest.raises(InputError, match=r"num_samples=True: Input should be an integer, not true or false"):
        toolkit.retrosynthesis("CCO", num_samples=True)
    with pytest.raises(InputError, match=r"lipinski='yes': Input should be true or false"):
        toolkit.generate_molecules(lipinski="yes")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"min_qed=True: Input should be a number"):
        toolkit.generate_molecules(min_qed=True)
    with pytest.raises(InputError, match=r"cancel='yes': Input should be true or false"):
        toolkit.get_job("j-0123456789ab", cancel="yes")  # type: ignore[arg-type]
    result = toolkit.generate_molecules(num_molecules=1, max_samples=1, max_mw=500, seed=1)  # int for a float
    assert result.filter_report.filters.max_mw == 500.0
