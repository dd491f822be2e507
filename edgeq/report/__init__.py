"""Reports: the comparison table, Markdown and JSON renderings of results."""
