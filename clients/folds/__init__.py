"""Pure folds of event streams into what a participant knows, one module per stream kind."""
