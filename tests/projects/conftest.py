"""app/projects: creating, reading, listing, changing and re-planning projects."""
