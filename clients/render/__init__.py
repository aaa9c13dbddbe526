"""Lines and tables for people, one module per stream kind, in the CLI's language."""
