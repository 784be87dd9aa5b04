"""The service as production runs it (`python -m app`), in a subprocess the tests can watch.

Unlike `tests/app/live_server.py` (which runs `uvicorn app.main:app`), this starts the same
entry point as the container, so the HTTP parser and its limits are the deployed ones. Each
server gets its own TMPDIR and working directory, so a test can prove that requests leave
nothing behind on disk, and its process id, so a test can read its memory and open files.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.app.images import encode, random_rgb
from tests.app.live_server import (
    REPO_ROOT,
    LiveServer,
    free_port,
    metric_samples,
    server_environment,
    stop_server,
    wait_until_ready,
)

NUM_LANDMARKS = 6
# A known-good upload: what a healthy server must still answer after every hostile request.
KNOWN_IMAGE_SIZE = (64, 48)
_KNOWN_IMAGE = encode(random_rgb(KNOWN_IMAGE_SIZE[1], KNOWN_IMAGE_SIZE[0], seed=7), "PNG")


@dataclass
class ProcessServer(LiveServer):
    """A `python -m app` subprocess with its own scratch directories."""

    tmp_dir: Path
    work_dir: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def open_files(self) -> list[str]:
        """Targets of the process's open file descriptors (sockets, pipes, files)."""
        targets = []
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                targets.append(os.readlink(fd))
            except FileNotFoundError:  # closed while listing
                continue
        return targets

    def files_in_tmp(self) -> list[str]:
        """Open descriptors that point into TMPDIR.

        Spooled uploads over 1 MiB roll over to `tempfile.TemporaryFile`, which on Linux is an
        unnamed O_TMPFILE: it never appears in a directory listing, only here, as
        `<TMPDIR>/#<inode> (deleted)`.
        """
        return [target for target in self.open_files() if target.startswith(str(self.tmp_dir))]

    def in_flight(self, http: httpx.Client) -> float:
        return metric_samples(http)["landmarks_images_in_flight{}"]


def start_app_server(root: Path, settings: dict[str, object]) -> ProcessServer:
    """Runs `python -m app` on a free loopback port and waits until /readyz answers 200.

    Args:
        root: an empty directory; gets `tmp/` (the server's TMPDIR), `work/` (its working
            directory) and `server.log`.
        settings: LANDMARKS_* settings without the prefix; HOST and PORT are set here.
    """
    tmp_dir, work_dir, log_path = root / "tmp", root / "work", root / "server.log"
    tmp_dir.mkdir(parents=True)
    work_dir.mkdir()
    port = free_port()
    env = server_environment({**settings, "HOST": "127.0.0.1", "PORT": port})
    env["TMPDIR"] = str(tmp_dir)
    # The working directory is a scratch folder (to see any stray write), so `app` comes from
    # the path instead.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=work_dir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = ProcessServer(f"http://127.0.0.1:{port}", process, log_path, tmp_dir, work_dir)
    wait_until_ready(server)
    return server


@contextmanager
def running_server(root: Path, settings: dict[str, object]) -> Iterator[ProcessServer]:
    """`start_app_server` as a context manager that always stops the process."""
    server = start_app_server(root, settings)
    try:
        yield server
    finally:
        stop_server(server)


def assert_serves_normally(http: httpx.Client) -> None:
    """The server is ready and answers a known image with six landmarks."""
    assert http.get("/readyz").status_code == 200
    response = http.post(
        "/landmarks",
        content=_KNOWN_IMAGE,
        params={"overlay": "false"},
        headers={"content-type": "image/png"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"] == {"width": KNOWN_IMAGE_SIZE[0], "height": KNOWN_IMAGE_SIZE[1]}
    assert [landmark["id"] for landmark in body["landmarks"]] == list(range(1, NUM_LANDMARKS + 1))


def read_head(connection: socket.socket) -> bytes:
    """Reads until a response head is complete (or the peer closes); may include body bytes."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received
