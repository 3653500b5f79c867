"""Signed checkpoints of the event chains, kept outside the database (issue 11 §5).

A checkpoint is the head (last seq and its hash) of every project's event chain, the number of
projects and the change feed's head (highest position), signed with HMAC-SHA256 under
`derived_key(settings, "checkpoints")` and appended as one JSON line to a file of its own per database
in `settings.checkpoint_dir`. Someone who can write to the database but neither holds the server key
nor reaches that file cannot hide, from `regieflow verify`, events deleted at the end of a chain (with
the version lowered), a project deleted whole, or a rewritten chain: the database must still contain
what the last valid checkpoint saw. See docs/RELIABILITY.md, "Tamper evidence".
"""
