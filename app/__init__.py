"""regieflow: the creation workflow of Régies de Quartier as a service."""

__version__ = "0.1.0"
