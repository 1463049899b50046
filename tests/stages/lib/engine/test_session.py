"""engine: ray with a bad address: one StageError line naming the setting and the fix, never a traceback or a hang.

None of these start Ray: the address is refused before `ray.init` is called.
"""

from __future__ import annotations

import importlib.util
import socket

import pytest

from stages.lib.core.errors import StageError
from stages.lib.engine import session

ray = pytest.importorskip("ray", reason="engine: ray needs the `ray` extra (pip install -e '.[ray]')")


@pytest.fixture(autouse=True)
def no_ray(monkeypatch, tmp_path):
    if ray.is_initialized():
        pytest.skip("a Ray of this process is running: ray_session would use it as it is")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # `auto` looks for a cluster of this test only

    def never(**kwargs):
        raise AssertionError(f"ray.init must not be reached: {kwargs}")

    monkeypatch.setattr(ray, "init", never)


def _enter(address, timeout=2.0):
    with session.ray_session(address, None, timeout):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["garbage", "http://head:8265", "head:port", "head:70000", ":6379"])
def test_a_malformed_address(address):
    with pytest.raises(StageError, match=r"engine\.ray\.address .* is not host:port, ray://host:port, auto or local"):
        _enter(address)


@pytest.mark.skipif(importlib.util.find_spec("grpc") is not None, reason="the ray[client] extra is installed")
def test_a_ray_client_address_without_the_client_extra():
    with pytest.raises(
        StageError, match=r"Ray Client address, which needs the client extra: pip install 'ray\[client\]'"
    ):
        _enter("ray://head:10001")


def test_auto_with_no_cluster_running():
    with pytest.raises(StageError, match=r"'auto': no running Ray cluster found on this machine \(start one"):
        _enter("auto")


def test_nothing_listening_is_refused_at_once():
    port = _free_port()
    with pytest.raises(StageError, match=rf"cannot connect to 127\.0\.0\.1:{port} \(Connection refused\); start"):
        _enter(f"127.0.0.1:{port}")


def test_an_address_that_never_answers_fails_after_the_connect_timeout(monkeypatch):
    def silent(address, timeout):
        assert timeout == 0.5  # engine.ray.connect_timeout_s reaches the connection
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(
        StageError, match=r"nothing answered at 10\.1\.2\.3:6379 within engine\.ray\.connect_timeout_s=0\.5 s"
    ):
        _enter("10.1.2.3:6379", timeout=0.5)


def test_a_garbage_ray_address_in_the_environment_is_named_as_such(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "not an address")
    with pytest.raises(StageError, match=r"^RAY_ADDRESS \(environment\) 'not an address' is not host:port"):
        _enter(None)


def test_an_error_from_ray_init_is_one_line(monkeypatch):
    def failing(**kwargs):
        raise ConnectionError("GCS did not answer\nlong traceback text")

    monkeypatch.setattr(ray, "init", failing)
    with pytest.raises(StageError, match=r"'local': Ray could not start or connect \(GCS did not answer\); set engine"):
        _enter("local")


def test_the_stages_pass_every_ray_setting():
    """ray_session's keyword arguments are named like engine.ray's fields, so a new setting cannot be dropped."""
    import inspect

    from schemas.engine import RayParams

    assert list(inspect.signature(session.ray_session).parameters) == list(RayParams.model_fields)
