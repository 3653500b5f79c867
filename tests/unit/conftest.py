"""workflow/, the domain: states, guards, deadlines, history, effects. Plain Python: no database, no web
framework, no fixture from tests/fixtures/ (`pytest tests/unit` collects in about a second)."""
