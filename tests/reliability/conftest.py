"""The bench drills run small (a soak, a kill -9, a backup under load: marked `slow`), and hostile
inputs that must never answer 500."""
