"""What the entry points (CLI, API, batch) ask of the domain: import and export, recommend,
edit records, screen, API keys."""
