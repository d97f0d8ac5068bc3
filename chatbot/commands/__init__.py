"""Subcommand groups of the `movie-rag` CLI; each module has `register(subparsers)`."""
