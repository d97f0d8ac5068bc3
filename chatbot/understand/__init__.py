"""Reading questions: `read_plan` turns one into a `retrieval.plan.QueryPlan` by rules, no I/O.

`understand` / `Understanding` / `GENRE_WORDS` are the older route-and-filters reading, kept
while the graph's nodes still use it.
"""

from chatbot.understand.legacy import GENRE_WORDS, Understanding, decade_range, understand
from chatbot.understand.reader import read_plan

__all__ = ["GENRE_WORDS", "Understanding", "decade_range", "read_plan", "understand"]
