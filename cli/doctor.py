"""`tfstyle doctor`: the machine's self-check (tfstyle.workflows.doctor),
as text to read or JSON to paste into a bug report."""

from __future__ import annotations

import json

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError

from .app import app, config_options
from .quiet import start_tensorflow

# The race's image: at least what VGG19's deepest layer needs with room for
# its pools; at most a print-sized evaluation, which would take minutes.
RACE_SIZES = (32, 2048)


@app.command()
@config_options(only=("memory_limit", "device_memory_limit"))
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    offline: bool = typer.Option(False, help="Do not try the network for ImageNet weights."),
    race_size: int = typer.Option(512, help="Side in px of the XLA race's image; 0 skips the "
                                            "race (a few seconds at 64, a minute at 512)."),
    config: StyleConfig = None,
):
    """Check this machine: versions, device, memory, XLA, weights, the largest print."""
    low, high = RACE_SIZES
    if race_size and not low <= race_size <= high:
        raise ConfigError("race_size", f"expected 0 (no race) or {low}-{high} px, "
                                       f"received {race_size}")
    start_tensorflow()
    from tfstyle.workflows.doctor import doctor as check

    report = check(config, race_size=race_size, offline=offline)
    typer.echo(json.dumps(report, indent=2) if as_json else render(report))


def render(report: dict) -> str:
    """The report as a few labelled lines."""
    lines = []
    for name, section in report.items():
        text = section["error"] if "error" in section else RENDER[name](section)
        lines.append(f"{LABELS[name] + ':':<15}{text}")
    return "\n".join(lines)


def _versions(v: dict) -> str:
    return (f"tfstyle {v['tfstyle']}, TensorFlow {v['tensorflow']}, Keras {v['keras']}, "
            f"NumPy {v['numpy']}, Python {v['python']}")


def _device(d: dict) -> str:
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in d["cpu_flags"].items())
    gpu = d["gpu"]
    if gpu:
        card = (f"GPU {gpu['name']}: {gpu['total_gb']:.1f} GB, {gpu['held_by_others_gb']:.1f} "
                f"GB held by other processes ({gpu['source']})")
    elif d["gpus_seen_by_tensorflow"]:
        card = "a GPU TensorFlow sees, whose memory neither NVML nor nvidia-smi could tell"
    else:
        card = "no GPU seen by TensorFlow"
    return f"runs on {d['runs_on']}; CPU {d['cpu']} ({flags}); {card}"


def _memory(m: dict) -> str:
    host, device = m["host"], m["device"]
    text = (f"host {host['free_gb']:.1f} GB free, budget {host['budget_gb']:.1f} GB "
            f"({host['source']}); device {device['kind']}")
    if device["kind"] == "GPU" or device["source"].startswith("--"):
        text += f", budget {device['budget_gb']:.1f} GB ({device['source']})"
    return text


def _race(r: dict) -> str:
    if r.get("skipped"):
        return "skipped (--race-size 0)"
    return (f"at {r['size']} px on {r['on']}: {r['description']}, the race took "
            f"{r['race_seconds']:.1f} s; precision {r['precision']}")


def _weights(w: dict) -> str:
    return f"ImageNet VGG19 {'available, ' if w['available'] else ''}{w['how']}"


def _largest(p: dict) -> str:
    def one(name):
        fit = p[name]
        if fit is None:
            return f"{name}: none"
        tiles = (f"tiles of {fit['tile']} px, {fit['overhead']:.1f}x the pixels" if fit["tile"]
                 else "untiled")
        most = "at least " if fit["at_least"] else ""
        return f"{name} {most}{fit['width']}x{fit['height']} px ({tiles}, {fit['driver']})"
    return (f"{one('square')}; {one('3:2')}; --optimizer {p['optimizer']}, "
            f"in steps of {p['step']} px")


LABELS = {"versions": "versions", "device": "device", "memory": "memory",
          "race": "XLA race", "weights": "weights", "largest_print": "largest print"}
RENDER = {"versions": _versions, "device": _device, "memory": _memory, "race": _race,
          "weights": _weights, "largest_print": _largest}
