"""LangChain adapter: the LOGOS toolkit as native LangChain tools (``langchain-core`` >= 1).

    from logos_tools.langchain import LogosToolkit

    tools = LogosToolkit().get_tools()  # one shared model for all tools
    tools = LogosToolkit(tools=["design_ligands", "retrosynthesis"]).get_tools()  # only these

Each tool answers with text for the agent and the structured result as the message artifact;
progress arrives as ``logos_progress`` custom events. Needs ``pip install 'logos-tools[langchain]'``.
"""

import importlib.util

from logos_tools.errors import MissingDependencyError

if importlib.util.find_spec("langchain_core") is None:
    raise MissingDependencyError("langchain-core", "langchain", "The LOGOS LangChain tools")

# Imported after the check, so a missing extra reads as the install hint, not as an ImportError.
from logos_tools.langchain.progress import PROGRESS_EVENT
from logos_tools.langchain.tool import LogosTool
from logos_tools.langchain.toolkit import LogosToolkit

__all__ = ["PROGRESS_EVENT", "LogosTool", "LogosToolkit"]
