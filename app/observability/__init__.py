"""Operations: one log line per request (text or JSON) with a request id, Prometheus metrics, liveness and
readiness probes, worker heartbeats."""
