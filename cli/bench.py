"""`tfstyle bench`: seconds per iteration against the bare network."""

from __future__ import annotations

import json
from typing import Optional

import typer

from tfstyle.config import StyleConfig
from tfstyle.errors import ConfigError

from .main import _ints, app
from .run import start_library

D = StyleConfig()
# (row key, column heading, format)
COLUMNS = (("size", "px", "{}"), ("jit", "XLA", "{}"), ("floor_s", "floor s", "{:.3f}"),
           ("objective_s", "objective s", "{:.3f}"), ("iteration_s", "iteration s", "{:.3f}"),
           ("floor_gflops", "floor GFLOP/s", "{:.0f}"),
           ("objective_gflops", "objective GFLOP/s", "{:.0f}"),
           ("objective_ratio", "objective/floor", "{:.3f}"),
           ("iteration_ratio", "iteration/floor", "{:.3f}"),
           ("evaluations_per_iteration", "evals/it", "{:.2f}"), ("traces", "traces", "{}"),
           ("peak_rss_mb", "peak RSS MB", "{:.0f}"))


@app.command()
def bench(
    sizes: str = typer.Option("256,512", help="Square image sizes, px (1024 on request)."),
    jit: str = typer.Option("both", help="XLA: both, on or off."),
    repeats: int = typer.Option(5, help="Timed repeats per measurement (the median is shown)."),
    iterations: int = typer.Option(6, help="L-BFGS iterations timed per size."),
    weights: str = typer.Option("random", help="Weights (the cost does not depend on them)."),
    precision: str = typer.Option(D.precision, help="float32, mixed_float16 or mixed_bfloat16."),
    init: str = typer.Option(D.init, help="Start of the L-BFGS runs: content or noise."),
    as_json: Optional[bool] = typer.Option(False, "--json", help="Print JSON rows instead of a table."),
    coarse_to_fine: bool = typer.Option(False, help="Also time coarse-to-fine (half size, then the largest "
                                                    "size) against a single-scale run of 300 iterations."),
):
    """Median seconds of the bare VGG19 pass, the objective and an L-BFGS-B iteration."""
    values = _ints("sizes", sizes)
    if not values:
        raise ConfigError("sizes", "at least one size is needed")
    modes = {"both": (False, True), "on": (True,), "off": (False,)}.get(jit)
    if modes is None:
        raise ConfigError("jit", f"expected both, on or off, received {jit!r}")
    if repeats < 1 or iterations < 2:
        raise ConfigError("repeats" if repeats < 1 else "iterations", "too small")
    if init not in ("content", "noise"):
        raise ConfigError("init", f"expected content or noise, received {init!r}")
    config = StyleConfig(weights=weights, precision=precision, scales=values, init=init)  # validates
    start_library()
    from rich.console import Console
    from rich.table import Table

    from tfstyle.bench import run_bench

    console = Console(width=max(Console().width, 150))
    rows = run_bench(values, modes, repeats, iterations, config.replace(scales=()),
                     report=None if as_json else lambda row: console.print(
                         f"measured {row['size']} px, jit={row['jit']}", style="dim"))
    if coarse_to_fine:
        from tfstyle.bench import coarse_to_fine_race

        top = max(values)
        race = coarse_to_fine_race(top, 300, top // 2, config.replace(scales=()))
        if not as_json:
            console.print(f"coarse-to-fine {race['coarse']}->{top} px: reached the single-scale "
                          f"final loss {race['single_final_loss']:.4g} "
                          + (f"in {race['coarse_to_fine_seconds']:.1f} s "
                             f"({race['coarse_iterations']} + "
                             f"{race['coarse_to_fine_iterations'] - race['coarse_iterations']} "
                             f"iterations)" if race["reached"] else "not within 300 + 300 iterations")
                          + f"; single scale took {race['single_seconds']:.1f} s for 300 iterations")
        rows.append(race)
    if as_json:
        print(json.dumps(rows, indent=2))
        raise typer.Exit(0)
    table = Table(title="tfstyle bench (medians; ratios are to the bare VGG19 pass)")
    for _, heading, _ in COLUMNS:
        table.add_column(heading, justify="right")
    for row in rows:
        if "floor_s" not in row:
            continue
        table.add_row(*(fmt.format(row[key]) for key, _, fmt in COLUMNS))
    console.print(table)
    raise typer.Exit(0)
