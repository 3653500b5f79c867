"""app/core: migrations (the Alembic history builds the models' schema, down and up again)."""
