"""The runner layer without Redis: what travels to a worker comes back the same, and the
local runner is the pipeline itself."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("celery", reason='needs the workers extra: pip install ".[workers]"')

from evidence.errors import BrokerError, InputError  # noqa: E402
from evidence.ocr.base import Box, OcrLine, OcrResult  # noqa: E402
from evidence.pipeline import BuildOptions, BuildResult, Limits  # noqa: E402
from evidence.runners import get_runner, tasks  # noqa: E402
from evidence.runners.local import LocalRunner  # noqa: E402


def test_build_options_travel_whole():
    o = BuildOptions(engine="rapidocr", cache_dir=Path("/mnt/e/cache"), use_cache=False,
                     output=Path("/mnt/e/out.pdf"), draft=True, processor="stripe",
                     max_size=2_000_000, max_pages=30, page_size="a4", keep_duplicates=True,
                     keep_last4=True, today=dt.date(2024, 11, 1), exclude={Path("/mnt/e/x.pdf")})
    back = tasks.options_from_json(tasks.options_to_json(o))
    for f in tasks.OPTION_FIELDS + ("exclude",):
        assert getattr(back, f) == getattr(o, f), f


def test_build_result_travels_whole():
    r = BuildResult(output=Path("/mnt/e/evidence.pdf"), bytes=1234, pages=5, order=["a.png", "b.png"],
                    failed=["c.png"], draft=True, exhibits=2,
                    limits=Limits(4_500_000, 49, "letter", False, "stripe"),
                    left_out=[{"source": "d.png", "reason": "duplicate of a.png"}],
                    redacted=[{"source": "a.png", "what": "card ending 4242"}], warnings=["w"])
    assert tasks.result_from_json(tasks.result_to_json(r)) == r


def test_precomputed_ocr_answers_by_hash_and_reads_only_the_rest(tmp_path):
    result = OcrResult((OcrLine("Jane Cooper", Box(1, 2, 30, 12), 0.9),), 100, 200, "k")
    runner = tasks.precomputed_ocr({"aa": {"result": result.to_json()},
                                    "bb": {"error": ["input", "not an image"]}})
    missing = tmp_path / "gone.png"  # not in the results: read here, and it is missing
    out = runner([(tmp_path / "a.png", "aa"), (tmp_path / "b.png", "bb"), (missing, "cc")],
                 "rapidocr", cache=None)
    assert list(out) == [tmp_path / "a.png", tmp_path / "b.png", missing]
    assert out[tmp_path / "a.png"] == result
    assert isinstance(out[tmp_path / "b.png"], InputError)
    assert out[tmp_path / "b.png"].message == "not an image"
    assert isinstance(out[missing], InputError) and out[missing].path == missing


def test_without_a_broker_the_runner_is_local():
    assert isinstance(get_runner(None), LocalRunner)


@pytest.mark.parametrize("url", ["amqp://guest@localhost//", "http://example.com", "localhost:6379"])
def test_only_redis_brokers_are_taken(url):
    with pytest.raises(BrokerError, match="unsupported broker URL"):
        get_runner(url)


def test_a_password_in_the_broker_url_is_never_shown():
    with pytest.raises(BrokerError) as e:
        tasks.ping_broker("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in str(e.value) and "cannot reach the broker" in str(e.value)
