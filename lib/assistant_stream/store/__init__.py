"""Storage: the database, its transactions and migrations, sessions and messages (raises domain errors only)."""
