"""The body deadline's stream (memories_portal/slow_clients.py), on a real socket pair. How
it holds under gunicorn: tests/live/test_slow_clients.py."""

import socket

import pytest

from memories_portal.slow_clients import BodyTooSlow, DeadlineInput


@pytest.fixture
def connection():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_body_cut_off_at_its_deadline_is_never_handed_on_as_if_whole(connection):
    server, client = connection
    client.sendall(b"status=PARSE&videoNo=VI1")  # of 100 bytes declared: still coming
    body = DeadlineInput(server.makefile("rb"), server, length=100)
    body.expire()
    with pytest.raises(BodyTooSlow):
        body.read(100)
    assert body.timed_out


def test_a_body_read_to_its_end_is_not_cut_off_afterwards(connection):
    server, client = connection
    client.sendall(b"x" * 10)
    body = DeadlineInput(server.makefile("rb"), server, length=10)
    assert body.read(10) == b"x" * 10
    body.expire()  # the deadline passes while the view works on
    assert not body.timed_out
