"""Store: the workspace on disk (settings file, immutable dataset versions, runs, media)."""
