from __future__ import annotations

import inspect
import typing

import pytest
from pydantic import ValidationError

from logos_tools.errors import InputError
from logos_tools.langchain.schema import arguments_model, describe, result_type, tool_method
from logos_tools.tasks.ligand_design import LigandDesignResult
from logos_tools.toolkit import Toolkit


def test_every_tool_schema_has_the_method_parameters_with_their_defaults_and_descriptions(
    shared_toolkit: Toolkit,
) -> None:
    for method in shared_toolkit.tools():
        schema = arguments_model(method).model_json_schema()
        parameters = inspect.signature(method).parameters
        assert list(schema.get("properties", {})) == list(parameters), method.__name__
        required = [name for name, p in parameters.items() if p.default is inspect.Parameter.empty]
        assert schema.get("required", []) == required, method.__name__
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{method.__name__}.{name} has no description for the agent"
            if parameters[name].default is not inspect.Parameter.empty:
                assert prop["default"] == parameters[name].default


def test_schema_limits_are_the_toolkit_limits(shared_toolkit: Toolkit) -> None:
    model = arguments_model(shared_toolkit.retrosynthesis)
    props = model.model_json_schema()["properties"]
    assert props["num_samples"]["anyOf"][0] == {"maximum": 256, "minimum": 1, "type": "integer"}
    with pytest.raises(ValidationError):
        model(product="CCO", num_samples=0)


def test_schema_rejects_arguments_the_tool_does_not_take(shared_toolkit: Toolkit) -> None:
    model = arguments_model(shared_toolkit.retrosynthesis)
    assert model.model_json_schema()["additionalProperties"] is False
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model(product="CCO", smiles="CCO")


def test_description_is_the_whole_method_docstring(shared_toolkit: Toolkit) -> None:
    text = describe(shared_toolkit.design_ligands)
    assert text == inspect.getdoc(Toolkit.design_ligands)
    assert text.startswith("Design small-molecule ligands for a protein pocket")


def test_result_type_is_the_method_return_annotation(shared_toolkit: Toolkit) -> None:
    assert result_type(shared_toolkit.design_ligands) is LigandDesignResult
    for method in shared_toolkit.tools():
        assert result_type(method) is typing.get_type_hints(method)["return"]


def test_an_unknown_tool_name_is_an_input_error_listing_the_tools(shared_toolkit: Toolkit) -> None:
    with pytest.raises(
        InputError, match=r"'retrosynthesize' is not a LOGOS tool.*Use one of: retrosynthesis, "
    ):
        tool_method(shared_toolkit, "retrosynthesize")
