"""Upload and download throughput of a 20 MB file on the local storage, and the server's memory.

Not a test (no `test_` prefix): run `.venv/bin/python -m tests.documents.bench_throughput`. It serves the
app with `regieflow serve` on a free loopback port (SQLite and a documents directory in a temporary
directory), uploads a 20 MB PDF with httpx streaming it from disk, downloads it back, and reads the
server process's resident memory (VmRSS) before and its peak (VmHWM) after, from /proc."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SIZE = 20 * 1024 * 1024


def _proc(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def measure(rounds: int = 3) -> dict[str, float]:
    """Seconds of each upload and download, and the server's RSS before and peak after (bytes)."""
    root = Path(tempfile.mkdtemp(prefix="regieflow-bench-"))
    bindir = Path(sys.executable).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "REGIEFLOW_DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "REGIEFLOW_DOCUMENTS_DIR": str(root / "documents"),
        "REGIEFLOW_CHECKPOINT_DIR": str(root / "checkpoints"),
        "REGIEFLOW_SECRET_KEY": "bench-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "REGIEFLOW_PORT": str(port),
        "REGIEFLOW_LOG_LEVEL": "warning",
    }
    subprocess.run([bindir / "regieflow", "db", "upgrade"], env=env, check=True, capture_output=True)
    made = subprocess.run(
        [
            bindir / "regieflow",
            "keys",
            "create",
            "--name",
            "Banc",
            "--scope",
            "read",
            "--scope",
            "write",
            "--consultant",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [bindir / "regieflow", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        sample = root / "sample.pdf"
        with sample.open("wb") as out:  # a PDF header, then 20 MB of incompressible bytes
            out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
            out.write(os.urandom(SIZE - out.tell()))
        digest = hashlib.sha256(sample.read_bytes()).hexdigest()
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            project = c.post(
                "/projects",
                json={"name": "Banc", "kind": "regie_de_quartier", "region": "Bretagne", "initiator": "habitants"},
            ).json()["id"]
            warm = c.post(f"/projects/{project}/documents", files={"file": ("petit.txt", b"bonjour\n")})
            assert warm.status_code == 201, warm.text
            before = _proc(server.pid, "VmRSS")
            ups, downs = [], []
            for _ in range(rounds):
                with sample.open("rb") as f:
                    start = time.perf_counter()
                    r = c.post(f"/projects/{project}/documents", files={"file": ("gros.pdf", f, "application/pdf")})
                    ups.append(time.perf_counter() - start)
                assert r.status_code == 201, r.text
                assert r.json()["sha256"] == digest
                doc = r.json()["id"]
                start = time.perf_counter()
                h = hashlib.sha256()
                with c.stream("GET", f"/projects/{project}/documents/{doc}/content") as down:
                    for chunk in down.iter_bytes():
                        h.update(chunk)
                downs.append(time.perf_counter() - start)
                assert h.hexdigest() == digest
            peak = _proc(server.pid, "VmHWM")
        return {
            "upload": min(ups),
            "upload_median": sorted(ups)[len(ups) // 2],
            "download": min(downs),
            "download_median": sorted(downs)[len(downs) // 2],
            "before": before,
            "peak": peak,
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    m = measure()
    mb = SIZE / (1024 * 1024)
    print(f"file: {mb:.0f} MiB, 3 rounds (best / median)")
    print(f"upload:   {mb / m['upload']:.0f} / {mb / m['upload_median']:.0f} MiB/s")
    print(f"download: {mb / m['download']:.0f} / {mb / m['download_median']:.0f} MiB/s")
    print(f"server RSS before: {m['before'] / 2**20:.1f} MiB; peak (VmHWM) after: {m['peak'] / 2**20:.1f} MiB")
    print(f"growth of the peak over the resident size before: {(m['peak'] - m['before']) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
