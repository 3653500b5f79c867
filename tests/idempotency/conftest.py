"""app/idempotency: Idempotency-Key on writes, replays, races between a request and its retry."""
