"""The creation workflow of a Régie de Quartier: plain Python on `transitions`, no web or database."""
