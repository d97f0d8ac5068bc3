"""Reading questions: `read_plan` turns one into a `retrieval.plan.QueryPlan` by rules, no I/O."""

from chatbot.understand.reader import read_plan

__all__ = ["read_plan"]
