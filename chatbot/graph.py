"""The conversation as a LangGraph state machine.

understand -> (draft_sql -> check_sql -> run_sql | retrieve) -> generate -> check_citations
`retrieve` runs the question's query plan over the whole catalog (embedding only when the plan
ranks by a phrase); chit-chat skips straight to generate; free-form SQL is drafted only for
aggregates. A rejected draft gets one repair; a second rejection, an execution error or zero
rows falls back to the plan.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from chatbot import nodes
from chatbot.deps import Deps
from chatbot.state import InputState, State

NODE_NAMES = ("understand", "retrieve", "draft_sql", "check_sql", "run_sql", "generate", "check_citations")


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the graph; `checkpointer` persists threads (None: no memory between calls)."""
    g = StateGraph(State, input_schema=InputState, context_schema=Deps)
    for name in NODE_NAMES:
        g.add_node(name, getattr(nodes, name))
    g.add_edge(START, "understand")
    g.add_conditional_edges("understand", nodes.after_understand)
    g.add_conditional_edges("draft_sql", nodes.after_draft)
    g.add_conditional_edges("check_sql", nodes.after_check)
    g.add_conditional_edges("run_sql", nodes.after_run)
    g.add_edge("retrieve", "generate")
    g.add_edge("generate", "check_citations")
    g.add_edge("check_citations", END)
    return g.compile(checkpointer=checkpointer)
