"""render on `engine: ray` gives the same bytes and metrics as on `engine: local`, on a local Ray cluster."""

import hashlib
from pathlib import Path

import pytest

from schemas.engine import EngineParams
from stages import render
from stages.lib.engine.session import runtime_env
from tests.render_helpers import CONVERSATIONS, conv, params, setup

ray = pytest.importorskip("ray", reason="engine: ray needs the `ray` extra (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def cluster():
    options = {"include_dashboard": False, "log_to_driver": False, "_node_ip_address": "127.0.0.1"}
    ray.init(num_cpus=2, runtime_env=runtime_env(), **options)
    yield
    ray.shutdown()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_ray_gives_the_same_bytes(cluster, tmp_path):
    convs = [
        *CONVERSATIONS * 4,
        conv(("user", "Say <|eot_id|>"), ("assistant", "No.")),
        conv(("user", "a " * 60), ("assistant", "b " * 60)),
    ]
    out = {}
    for kind in ("local", "ray"):
        paths = setup(tmp_path / kind, convs, template="llama3")
        cfg = params(template="llama3", batch_size=3, packing=True, max_length=48)
        metrics = render.run(cfg, paths, EngineParams(kind=kind))
        out[kind] = (metrics, _digests(Path(paths.rendered)))
    assert out["local"][0] == out["ray"][0]
    assert out["local"][1] == out["ray"][1]
    assert (
        out["ray"][0]["dropped"]["special_token_in_content"] == 1 and out["ray"][0]["dropped"]["answer_truncated"] == 1
    )
