"""--jit auto: both paths raced at the first evaluation of a size, the
faster kept, the choice cached per machine and recorded."""

import json

import numpy as np
import pytest

from conftest import smooth_image
from tfstyle.events import Iterate, only
from tfstyle.core import jit
from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError
from tfstyle.core.objective import Objective
from tfstyle.core.synthesis import stylize

CONFIG = StyleConfig(content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"),
                     weights="random", iterations=3, max_size=32, beta=1e2, precision="float32")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSTYLE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / jit.CACHE_FILE


@pytest.fixture
def fake_race(monkeypatch):
    """jit.race replaced by a made-up fair race that XLA lost, for the
    tests of the cache (not of XLA: the "no XLA" path runs on every build);
    the list counts the races run."""
    races = []

    def race(run_without, run_with, timed=jit.TIMED_RUNS):
        races.append(1)
        return jit.JitChoice(False, "raced", {"off": 0.25, "on": 0.5})
    monkeypatch.setattr(jit, "race", race)
    return races


def run(tiny, config=CONFIG):
    seen = []
    result = stylize(smooth_image(32, 32, 1), smooth_image(32, 32, 2), config, extractor=tiny,
                     callback=only(Iterate, seen.append))
    return result, seen


def test_auto_races_both_paths_keeps_the_faster_and_says_so(tiny, cache):
    result, seen = run(tiny)
    (choice,) = result.jit
    assert choice["size"] == [32, 32]
    # One trace of the path in use, however many the race took.
    assert result.traces == 1
    if choice["reason"].startswith("XLA failed"):
        # Where XLA cannot compile this graph, it loses, and an unfair race
        # is not remembered: the next run tries again.
        assert not choice["xla"] and set(choice["seconds"]) == {"off"}
        assert seen and all(it.jit.startswith("no XLA (XLA failed") for it in seen)
        assert not cache.exists()
        return
    assert choice["reason"] == "raced" and set(choice["seconds"]) == {"on", "off"}
    kept, other = ("on", "off") if choice["xla"] else ("off", "on")
    assert choice["seconds"][kept] <= choice["seconds"][other]  # equal only after rounding
    # The progress line hears the choice with every iterate.
    said = "XLA (raced" if choice["xla"] else "no XLA (raced"
    assert seen and all(it.jit.startswith(said) for it in seen)
    stored = json.loads(cache.read_text())
    (key,) = stored
    assert "32 px" in key and "TinyExtractor" in key and stored[key]["xla"] == choice["xla"]


def test_a_cached_choice_skips_the_race(tiny, cache, fake_race):
    first, _ = run(tiny)
    assert first.jit[0]["reason"] == "raced" and fake_race == [1]
    (key,) = json.loads(cache.read_text())
    # A later run follows the stored choice, unraced, with its timings.
    second, seen = run(tiny)
    assert fake_race == [1]
    assert second.jit[0] == {"size": [32, 32], "xla": False, "reason": "cached",
                             "seconds": {"off": 0.25, "on": 0.5}}
    assert all("no XLA (cached" in it.jit for it in seen)
    # Another size is another bucket: raced again.
    stylize(smooth_image(64, 64, 1), smooth_image(64, 64, 2), CONFIG.replace(max_size=64),
            extractor=tiny)
    assert fake_race == [1, 1] and len(json.loads(cache.read_text())) == 2


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"x": "y"}', "\x00\xff"])
def test_a_broken_cache_is_ignored_and_rewritten(tiny, cache, fake_race, content):
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content.encode("latin-1"))
    result, _ = run(tiny)
    assert result.jit[0]["reason"] == "raced" and fake_race == [1]
    data = json.loads(cache.read_text())
    assert any("TinyExtractor" in key for key in data)


def test_an_unwritable_cache_costs_only_the_race(tiny, tmp_path, monkeypatch, fake_race):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TFSTYLE_CACHE_DIR", str(blocker / "cache"))
    result, _ = run(tiny)
    assert result.jit[0]["reason"] == "raced" and result.iterations == 3
    run(tiny)  # nothing could be stored: raced again
    assert fake_race == [1, 1]


def test_on_and_off_are_taken_as_set(tiny, cache):
    for mode, xla in (("on", True), ("off", False)):
        result, seen = run(tiny, CONFIG.replace(jit=mode))
        assert result.jit[0] == {"size": [32, 32], "xla": xla, "reason": "set", "seconds": {}}
    assert not cache.exists()  # nothing measured, nothing cached


def test_both_paths_give_the_same_loss_and_gradient(tiny, cache):
    content, style = smooth_image(32, 32, 1), smooth_image(32, 32, 2)
    x = smooth_image(32, 32, 3)
    values = {}
    for mode in ("on", "off"):
        objective = Objective(content, style, CONFIG.replace(jit=mode), tiny)
        values[mode] = objective.value_and_grad(x)
    (a, ga), (b, gb) = values["on"], values["off"]
    assert a == pytest.approx(b, rel=1e-4)
    np.testing.assert_allclose(ga, gb, atol=1e-4 * np.abs(gb).max())


def test_a_path_that_fails_to_compile_loses():
    def broken():
        raise RuntimeError("XLA cannot compile this")
    choice = jit.race(lambda: None, broken)
    assert not choice.xla and choice.reason.startswith("XLA failed")


def test_config_takes_auto_on_off_and_old_booleans():
    assert StyleConfig().jit == "auto"
    assert StyleConfig(jit=True).jit == "on" and StyleConfig(jit=False).jit == "off"
    assert StyleConfig.from_dict({**StyleConfig().to_dict(), "jit": False}).jit == "off"
    with pytest.raises(ConfigError):
        StyleConfig(jit="sometimes")


def test_size_buckets_group_nearby_sizes():
    assert jit.size_bucket(512, 512) == jit.size_bucket(480, 512)
    assert jit.size_bucket(512, 512) != jit.size_bucket(256, 256)
    assert jit.size_bucket(384, 512) != jit.size_bucket(768, 1024)
