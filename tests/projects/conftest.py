"""app/projects: creating, reading, listing, changing and re-planning projects; the services over a
fake unit of work (test_project_service.py: no database, no web framework)."""
