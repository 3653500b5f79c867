"""app/feed: the change feed, paged by cursor, every event once and in order."""
