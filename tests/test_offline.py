"""The course needs no network: in CI the tests run with only the loopback interface.

``.ci/run`` starts pytest inside a network namespace that has nothing but loopback. The first test
proves that the cut is real (when ``CI=true``), so that every other test in the same run, the
notebooks included, is known to have passed offline. The second checks that loopback still
works, which JupyterLab and its kernels need.
"""

from __future__ import annotations

import os
import socket
import threading

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
# Public addresses given as numbers (no name lookup): two anycast DNS services, HTTPS and DNS ports.
OUTSIDE = [("1.1.1.1", 443), ("8.8.8.8", 53), ("9.9.9.9", 443)]


@pytest.mark.skipif(not IN_CI, reason="only CI runs the tests without a network (see .ci/run)")
@pytest.mark.parametrize("address", OUTSIDE, ids=[f"{host}:{port}" for host, port in OUTSIDE])
def test_network_is_cut_off_in_ci(address):
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=2).close()


def test_loopback_works():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        received: list[bytes] = []

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                received.append(connection.recv(5))
                connection.sendall(b"pong")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"ping!")
            assert client.recv(4) == b"pong"
        thread.join(timeout=5)
    assert received == [b"ping!"]
