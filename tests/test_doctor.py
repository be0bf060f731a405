"""`tfstyle doctor`: the self-check's sections, its largest print against
the memory plan on a faked 16 GB GPU, the weights offline, the text form.
The race runs once, at 32 px with random filters; the other tests skip it."""

import json

import pytest

from conftest import cli
from tfstyle.config import StyleConfig
from tfstyle.core import jit, memory, tiling
from tfstyle.errors import ConfigError
from tfstyle.io import system
from tfstyle.io.gpu import GpuMemory
from tfstyle.weights import sources
from tfstyle.workflows import doctor

SECTIONS = ["versions", "device", "memory", "race", "weights", "largest_print"]


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """An empty Keras cache, and a network probe that fails the test if tried."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def probe(url, timeout):
        raise AssertionError("the network was tried")
    monkeypatch.setattr(sources, "unreachable", probe)
    return tmp_path / "keras" / "models" / sources.IMAGENET_FILE


@pytest.fixture
def t4(monkeypatch):
    """A 16 GB GPU that TensorFlow sees (its driver's reading faked) and 12 GB of host RAM."""
    reading = GpuMemory("Tesla T4", 16e9, 0.0, "NVML")
    monkeypatch.setattr(memory, "gpu_reading", lambda: reading)
    monkeypatch.setattr(system, "free_memory_bytes", lambda: 12e9)
    return reading


def report_of(capsys, *args) -> dict:
    assert cli("doctor", "--json", *args) == 0
    return json.loads(capsys.readouterr().out)


def test_the_json_has_every_section(capsys, no_network):
    import tensorflow as tf

    # A small host budget keeps the largest print's tile plan quick to make.
    report = report_of(capsys, "--offline", "--race-size", "0", "--memory-limit", "4")
    assert list(report) == SECTIONS
    assert not any("error" in section for section in report.values()), report
    assert report["versions"]["tensorflow"] == tf.__version__
    assert report["device"]["cpu"] == system.cpu_model()
    assert set(report["device"]["cpu_flags"]) == {"avx2", "avx512f", "avx512_bf16", "amx"}
    assert report["device"]["gpu"] is None  # no GPU here
    host, device = report["memory"]["host"], report["memory"]["device"]
    assert host["source"] == "--memory-limit 4 GB" and device["kind"].startswith("CPU")
    assert report["race"] == {"skipped": True}
    assert report["weights"]["available"] is False
    assert report["largest_print"]["square"]["width"] > 0


def test_the_largest_print_is_the_plans_edge_on_a_16_gb_gpu_with_12_gb_host(t4, no_network):
    report = doctor.doctor(StyleConfig(), race_size=0, offline=True)
    pools = report["memory"]
    assert pools["device"]["kind"] == "GPU" and pools["device"]["budget_gb"] == 12.0
    assert pools["device"]["reading"] == "NVML" and pools["host"]["budget_gb"] == 9.0
    assert report["device"]["gpu"]["name"] == "Tesla T4"
    largest, config = report["largest_print"], StyleConfig()
    for name, shape in (("square", lambda side: (side, side)),
                        ("3:2", lambda side: (side * 2 // 3, side))):
        fit, side = largest[name], largest[name]["width"]
        assert (fit["height"], fit["width"]) == shape(side) and side % doctor.STEP == 0
        plan, tile = memory.plan_memory([shape(side)], config, config.layers)
        assert (plan.driver, tile) == (fit["driver"], fit["tile"]) and not plan.unified
        assert fit["overhead"] == round(tiling.plan_tiles(shape(side), config.layers,
                                                          tile).overhead, 2) > 1
        with pytest.raises(ConfigError):
            memory.plan_memory([shape(side + doctor.STEP)], config, config.layers)
    assert largest["square"]["width"] >= 4096  # the print fits on that machine
    # --device-memory-limit holds the search as it holds a run: smaller tiles.
    limited = doctor.largest_print(StyleConfig(device_memory_limit=6.0))["square"]
    side = limited["width"]
    assert limited["tile"] == memory.plan_memory([(side, side)], config, config.layers,
                                                 device_limit_gb=6.0)[1]
    assert limited["tile"] < largest["square"]["tile"]


def test_largest_side_bisects_to_the_edge():
    assert doctor.largest_side(lambda side: side <= 1000, 16, 65536) == 992
    assert doctor.largest_side(lambda side: side <= 15, 16, 65536) is None
    assert doctor.largest_side(lambda side: True, 16, 4096) == 4096


def test_offline_weights_are_not_available_without_the_network(no_network):
    weights = doctor.imagenet_weights(offline=True)
    assert not weights["available"]
    assert weights["how"].startswith("not available: not cached at ")
    assert "--offline" in weights["how"] and "--weights procedural" in weights["how"]
    no_network.parent.mkdir(parents=True)
    no_network.write_bytes(b"not an h5 file")  # a broken download: not the weights
    assert "a damaged copy" in doctor.imagenet_weights(offline=True)["how"]


def test_online_the_weights_probe_says_why_it_failed(no_network, monkeypatch):
    monkeypatch.setattr(sources, "unreachable",
                        lambda url, timeout: f"no answer from the host within {timeout:g} s")
    weights = doctor.imagenet_weights(offline=False)
    assert not weights["available"] and "within 3 s" in weights["how"]
    monkeypatch.setattr(sources, "unreachable", lambda url, timeout: None)
    assert doctor.imagenet_weights(offline=False)["available"]


def test_the_race_is_core_jits_own(monkeypatch):
    races = []
    real = jit.race
    monkeypatch.setattr(jit, "race", lambda *paths: races.append(1) or real(*paths))
    race = doctor.xla_race(32, StyleConfig())
    assert races == [1] and race["size"] == 32 and race["weights"] == "random"
    assert race["precision"] == "float32 (precision race not built yet)"
    assert "off" in race["seconds"] and race["description"].startswith(
        "XLA (" if race["xla"] else "no XLA (")
    if race["reason"] == "raced":
        assert race["xla"] == (race["seconds"]["on"] < race["seconds"]["off"])


def test_the_text_form_has_one_labelled_line_a_section(capsys, no_network, t4):
    assert cli("doctor", "--offline", "--race-size", "0", "--device-memory-limit", "8") == 0
    lines = capsys.readouterr().out.splitlines()
    labels = ["versions:", "device:", "memory:", "XLA race:", "weights:", "largest print:"]
    assert [line.split(":")[0] + ":" for line in lines] == labels
    text = "\n".join(lines)
    assert "{" not in text and "Tesla T4: 16.0 GB" in text
    assert "budget 8.0 GB (--device-memory-limit 8 GB)" in text
    assert "ImageNet VGG19 not available" in text and "skipped (--race-size 0)" in text


def test_a_failing_section_is_reported_and_the_check_goes_on(capsys, no_network, monkeypatch):
    def broken(offline):
        raise OSError("disk gone")
    monkeypatch.setattr(doctor, "imagenet_weights", broken)
    report = report_of(capsys, "--offline", "--race-size", "0", "--memory-limit", "4")
    assert report["weights"] == {"error": "OSError: disk gone"}
    assert "error" not in report["largest_print"]


@pytest.mark.parametrize("args, message", [
    (["--race-size", "5"], "--race-size: expected 0 (no race) or 32-2048 px, received 5"),
    (["--memory-limit", "-1"], "--memory-limit"),
    (["--colour"], "No such option"),
])
def test_bad_options_are_one_line_and_exit_2(capsys, args, message):
    assert cli("doctor", *args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
