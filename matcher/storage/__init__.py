"""Storage adapters: the repository interface, its SQL and in-memory implementations."""
