"""`tfstyle bench`: seconds per iteration against the bare network."""

from __future__ import annotations

import importlib.util
import json
from typing import Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.config_parse import parse_list
from tfstyle.errors import ConfigError

from .app import app, config_options
from .quiet import start_tensorflow

# (row key, column heading, format)
COLUMNS = (("size", "px", "{}"), ("jit", "XLA", "{}"), ("floor_s", "floor s", "{:.3f}"),
           ("objective_s", "objective s", "{:.3f}"), ("iteration_s", "iteration s", "{:.3f}"),
           ("optimizer_s", "scipy own s", "{:.3f}"),
           ("device_iteration_s", "device it. s", "{:.3f}"),
           ("device_optimizer_s", "device own s", "{:.3f}"),
           ("floor_gflops", "floor GFLOP/s", "{:.0f}"),
           ("objective_ratio", "objective/floor", "{:.3f}"),
           ("iteration_ratio", "iteration/floor", "{:.3f}"),
           ("evaluations_per_iteration", "evals/it", "{:.2f}"), ("traces", "traces", "{}"),
           ("peak_rss_mb", "peak RSS MB", "{:.0f}"))
TORCH_COLUMNS = (("torch_s", "torch s", "{:.3f}"), ("torch_ratio", "torch/objective", "{:.2f}"))


@app.command()
@config_options(only=("weights", "precision", "init", "memory_limit"),
                defaults={"weights": "random"})
def bench(
    sizes: str = typer.Option("256,512", help="Square image sizes, px (1024 on request)."),
    jit: str = typer.Option("both", help="XLA: both, on or off."),
    repeats: int = typer.Option(5, help="Timed repeats per measurement (the median is shown)."),
    iterations: int = typer.Option(10, help="L-BFGS iterations timed per size and driver."),
    as_json: Optional[bool] = typer.Option(False, "--json", help="Print JSON rows instead of a table."),
    coarse_to_fine: bool = typer.Option(False, help="Also time coarse-to-fine (half size, then the largest "
                                                    "size) against a single-scale run of 300 iterations."),
    masks: bool = typer.Option(False, "--masks", help="Also time spatial control: two styles "
                                                       "with left/right masks against their blend."),
    drivers: bool = typer.Option(False, "--drivers", help="Also run both L-BFGS drivers for 200 "
                                 "iterations on the demo images (192 px) and compare final "
                                 "losses."),
    batch_jobs: int = typer.Option(0, min=0, help="Also run this many 256 px jobs with `batch` on "
                                   "the local engine and on Ray (one CPU each), and compare."),
    batch_iterations: int = typer.Option(80, min=1, help="Iterations of each --batch-jobs job."),
    compare_torch: bool = typer.Option(False, "--compare-torch",
                                       help="Also time the bare pass in plain PyTorch, "
                                            "where torch is importable."),
    tile_size: Optional[str] = typer.Option(
        None, help="Instead: one evaluation per size, untiled and in tiles of this many px "
                   "(auto: from --memory-limit), each in a fresh process; prints seconds, "
                   "peak RSS and the halo overhead, and marks what would not fit."),
    exactness: bool = typer.Option(False, "--exactness", help="With --tile-size N,M,...: the tiled "
                                   "loss and gradient against the untiled ones, at each size "
                                   "(width) by an odd height."),
    config: StyleConfig = None,
):
    """Median seconds of the bare VGG19 pass, the objective and an L-BFGS-B iteration."""
    values = parse_list("sizes", sizes, int)
    if not values:
        raise ConfigError("sizes", "at least one size is needed")
    if tile_size is not None:
        # Both paths would double an hour of print-size runs: plain unless --jit on.
        plain = config.replace(jit=jit if jit == "on" else "off")
        if exactness:
            return _exactness(values, parse_list("tile_size", tile_size, int), as_json, plain)
        return _tiled(values, tile_size, repeats, as_json, plain)
    modes = _checked_modes(jit, repeats, iterations, config)
    config = config.replace(scales=values, init=config.init or "content")  # validates the sizes
    start_tensorflow()
    from rich.console import Console

    console = Console(width=max(Console().width, 150))
    say = None if as_json else console.print
    torch_missing = compare_torch and importlib.util.find_spec("torch") is None
    with_torch = compare_torch and not torch_missing
    rows = _iteration_rows(values, modes, repeats, iterations, config.replace(scales=()), say,
                           with_torch)
    if torch_missing and say:
        say("--compare-torch: torch is not importable here; its columns are left out")
    rows += _more_rows(values, repeats, config.replace(scales=()), say, coarse_to_fine, drivers,
                       batch_jobs, batch_iterations, masks)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    console.print(_iteration_table(rows, COLUMNS + (TORCH_COLUMNS if with_torch else ())))


def _checked_modes(jit: str, repeats: int, iterations: int, config) -> tuple[bool, ...]:
    """The XLA settings to time (--jit both, on or off), once the other
    options are checked."""
    modes = {"both": (False, True), "on": (True,), "off": (False,)}.get(jit)
    if modes is None:
        raise ConfigError("jit", f"expected both, on or off, received {jit!r}")
    if repeats < 1 or iterations < 2:
        raise ConfigError("repeats" if repeats < 1 else "iterations", "too small")
    if config.init not in (None, "content", "noise"):
        raise ConfigError("init", f"expected content or noise, received {config.init!r}")
    return modes


def _iteration_rows(sizes, modes, repeats, iterations, config, say, with_torch) -> list[dict]:
    """tfstyle.bench.speed.run_bench's rows, a line per row as each is measured."""
    from tfstyle.bench.speed import run_bench

    return run_bench(sizes, modes, repeats, iterations, config,
                     callback=None if say is None else lambda event: say(
                         f"measured {event.values['size']} px, XLA {event.values['jit']}; "
                         f"--jit auto picks {event.values['auto']}", style="dim"),
                     compare_torch=with_torch)


def _more_rows(sizes, repeats, config, say, coarse_to_fine, drivers, batch_jobs,
               batch_iterations, masks) -> list[dict]:
    """The rows of the options that time more than an iteration, in this order."""
    rows = []
    if coarse_to_fine:
        rows.append(_coarse_to_fine(max(sizes), config, say))
    if drivers:
        rows.append(_drivers(config, say))
    if batch_jobs:
        rows.append(_batch(batch_jobs, batch_iterations, config, say))
    if masks:
        rows += _masks(sizes, repeats, config, say)
    return rows


def _coarse_to_fine(top: int, config, say) -> dict:
    """--coarse-to-fine: half of the largest size, then the largest."""
    from tfstyle.bench.runs import coarse_to_fine_race

    race = coarse_to_fine_race(top, 300, top // 2, config)
    if say:
        say(f"coarse-to-fine {race['coarse']}->{top} px: reached the single-scale "
            f"final loss {race['single_final_loss']:.4g} "
            + (f"in {race['coarse_to_fine_seconds']:.1f} s "
               f"({race['coarse_iterations']} + "
               f"{race['coarse_to_fine_iterations'] - race['coarse_iterations']} "
               f"iterations)" if race["reached"] else "not within 300 + 300 iterations")
            + f"; single scale took {race['single_seconds']:.1f} s for 300 iterations")
    return race


def _drivers(config, say) -> dict:
    """--drivers: both L-BFGS drivers, 200 iterations on the demo images at 192 px."""
    from tfstyle.bench.runs import drivers_race

    race = drivers_race(192, 200, config)
    if say:
        say("drivers, 200 iterations on the demo images at 192 px: " + "; ".join(
            f"{name} final loss {race[name]['final_loss']:.5g} in {race[name]['seconds']:.1f} s"
            for name in ("lbfgs", "lbfgs-device"))
            + f" (device/scipy loss {race['loss_ratio']:.4f})")
    return race


def _batch(jobs: int, iterations: int, config, say) -> dict:
    """--batch-jobs: the same 256 px jobs on the local engine and on Ray."""
    from tfstyle.bench.runs import batch_overhead

    row = batch_overhead(jobs, 256, iterations, config)
    if say:
        say(f"batch, {jobs} jobs of {iterations} iterations at 256 px: "
            f"local engine {row['local_s']:.1f} s (median job "
            f"{row['local_job_s']:.1f} s), Ray {row['ray_s']:.1f} s (median job "
            f"{row['ray_job_s']:.1f} s; overhead "
            f"{100 * row['ray_overhead']:+.1f}%); traces per job: local "
            f"{row['local_traces']}, Ray {row['ray_traces']}")
    return row


def _masks(sizes, repeats: int, config, say) -> list[dict]:
    """--masks: per size, two styles masked left/right against their blend."""
    from tfstyle.bench.speed import masks_overhead

    rows = []
    for size in sizes:
        row = masks_overhead(size, repeats, config.replace(scales=()))
        if say:
            say(f"masks {size} px: two styles blended {row['blended_s']:.3f} s, "
                f"masked {row['masked_s']:.3f} s per evaluation "
                f"({row['masked_ratio']:.3f}x)")
        rows.append(row)
    return rows


def _iteration_table(rows, columns):
    """The table of the per-iteration rows (the others were printed as lines)."""
    from rich.table import Table

    table = Table(title="tfstyle bench (medians; ratios are to the bare VGG19 pass; "
                        "'own' is an iteration less its evaluations)")
    for _, heading, _ in columns:
        table.add_column(heading, justify="right")
    for row in rows:
        if "floor_s" not in row:
            continue
        table.add_row(*(fmt.format(row[key]) for key, _, fmt in columns))
    return table


TILED_COLUMNS = (("size", "px", "{}"), ("tile_size", "tile", "{}"), ("grid", "tiles", "{}"),
                 ("largest", "largest tile", "{}"), ("overhead", "pixels computed / image", "{:.3f}"),
                 ("seconds", "s / evaluation", "{:.2f}"), ("peak_rss_gb", "peak RSS GB", "{:.2f}"),
                 ("estimate_gb", "estimate GB", "{:.2f}"))


def _tiled(sizes, tile_size, repeats, as_json, config):
    """The tiled table (see tfstyle.bench.tiles.tiled_rows)."""
    tiles = StyleConfig(tile_size=tile_size).tile_size  # checks the value
    if tiles == 0:
        raise ConfigError("tile_size", "give a tile size (or auto) to compare with untiled")
    start_tensorflow()
    from rich.console import Console
    from rich.table import Table

    from tfstyle.bench.tiles import tiled_rows

    console = Console(width=max(Console().width, 150))
    rows = tiled_rows(sizes, tiles, config, max(1, min(repeats, 3)),
                      callback=None if as_json else lambda event: console.print(
                          f"measured {event.values['size']} px, {event.values['tile_size']}",
                          style="dim"))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"tfstyle bench --tile-size {tile_size} (one evaluation, each row in a "
                        f"fresh process; budget {rows[0]['budget']}: {rows[0]['budget_gb']:.1f} GB)")
    for _, heading, _ in TILED_COLUMNS:
        table.add_column(heading, justify="right")
    for row in rows:
        if not row["fits"]:
            table.add_row(str(row["size"]), "untiled", "-", "-", "-",
                          "would not fit", "-", f"{row['estimate_gb']:.2f}")
            continue
        table.add_row(*(fmt.format(row[key]) for key, _, fmt in TILED_COLUMNS))
    console.print(table)
    for size in sorted(set(r["size"] for r in rows)):
        pair = [r for r in rows if r["size"] == size and r["fits"]]
        if len(pair) == 2:
            console.print(f"{size} px: tiled / untiled time {pair[1]['seconds'] / pair[0]['seconds']:.2f}x")


def _exactness(sizes, tiles, as_json, config):
    start_tensorflow()
    from tfstyle.bench.tiles import tiled_exactness

    rows = [row for size in sizes for row in
            tiled_exactness(size, size * 3 // 4 + 1 | 1, tiles, config)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console

    for row in rows:
        Console().print(f"{row['size']} px, --tile-size {row['tile_size']} ({row['plan']}): loss "
                        f"relative error {row['loss_error']:.1e}, gradient max error "
                        f"{row['gradient_error']:.1e} of its max")
