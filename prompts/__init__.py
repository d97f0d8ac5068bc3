"""Prompt texts as data. Importing does no I/O; catalog text is always fenced and labelled as data."""
