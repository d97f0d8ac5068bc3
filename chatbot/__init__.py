"""The conversation: settings, state, graph, nodes, LLM cascade, Chainlit app, CLI."""
