"""The typer `app`, the options every command shares, and the options built
from StyleConfig's fields.

`config_options` gives a command one option per StyleConfig field (its name,
default and help text all read from the dataclass) and hands the command a
ready `config`. A new StyleConfig field is a new option of every command
that optimises, with nothing to add here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import signal
from typing import Optional

import typer

from tfstyle.config import StyleConfig, field_help, field_type, list_item_type
from tfstyle.io.images import DEFAULT_MAX_PIXELS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Neural style transfer after Gatys, Ecker and Bethge (2015).")

# Options that are not part of a StyleConfig.
Output = typer.Option(..., "--output", "-o", help="Output image (.png or .jpg).")
OutputFolder = typer.Option(..., "--output", "-o", help="Folder for the panels and sheet.")
Overwrite = typer.Option(False, help="Replace an existing output.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
MaxPixels = typer.Option(DEFAULT_MAX_PIXELS, min=1, help="Refuse input images with more pixels than this.")
# The Ray engine's options, for `batch` (jobs) and `video` (shots).
Engine = typer.Option("local", help="local (one task after another in this process) or ray "
                                    "(each task, a job or a shot, a Ray task).")
RayAddress = typer.Option(None, help="With --engine ray: HOST:PORT or auto for an existing "
                                     "cluster; default a local Ray instance.")

# Groups of fields that some commands leave out.
CONTENT_FIELDS = ("content_layers", "content_weights", "alpha")
STYLE_FIELDS = ("style_layers", "style_weights", "beta", "style_blend", "style_scale",
                "preserve_color")
SCHEDULE_FIELDS = ("scales", "scale_iterations")


# Flags kept from when a field was a switch: field -> (flag, value, help).
NEGATIONS = {"normalize": ("--no-normalize", "off", "Alias of --normalize off (the raw network).")}


def option_name(field: str) -> str:
    """max_size -> --max-size"""
    return "--" + field.replace("_", "-")


def config_options(*, only=None, exclude=(), defaults=None, aliases=None):
    """Decorator: add StyleConfig's fields as options of a typer command.

    only / exclude: which fields (by default all).
    defaults: {field: value} where this command's default differs.
    aliases: {field: ("--other-name", ...)} kept for earlier option names.
    The command receives `config: StyleConfig` in place of those options;
    lists arrive as comma-separated text and StyleConfig parses them.
    """
    defaults, aliases = defaults or {}, aliases or {}
    fields = [f for f in dataclasses.fields(StyleConfig)
              if (only is None or f.name in only) and f.name not in exclude]

    def decorate(command):
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != "config"]
        added = [_parameter(f, defaults, aliases) for f in fields]
        negated = [(f.name, *NEGATIONS[f.name]) for f in fields if f.name in NEGATIONS]
        added += [inspect.Parameter(f"no_{name}", inspect.Parameter.KEYWORD_ONLY,
                                    default=typer.Option(False, flag, help=text), annotation=bool)
                  for name, flag, _, text in negated]

        @functools.wraps(command)
        def wrapper(**values):
            settings = {f.name: values.pop(f.name) for f in fields}
            for name, _, value, _ in negated:
                if values.pop(f"no_{name}"):
                    settings[name] = value
            return command(config=StyleConfig(**{**defaults, **settings}), **values)

        wrapper.__signature__ = signature.replace(parameters=kept + added)
        wrapper.__annotations__ = {p.name: p.annotation for p in kept + added}
        return wrapper

    return decorate


def _parameter(field, defaults, aliases) -> inspect.Parameter:
    default = defaults.get(field.name, field.default)
    kind = field_type(field.name)
    if list_item_type(field.name) is not None:
        # Lists are typed as text: "conv1_1,conv2_1" or "0.7,0.3".
        annotation = Optional[str]
        default = None if not default else ",".join(str(v) for v in default)
    elif kind is bool:
        annotation = bool
    elif type(None) in getattr(kind, "__args__", ()) or str in getattr(kind, "__args__", ()):
        annotation = Optional[str]
        default = None if default is None else str(default)
    else:
        annotation = kind
    names = (option_name(field.name), *aliases.get(field.name, ()))
    if kind is bool:
        names = (f"{names[0]}/--no-{names[0][2:]}",)
    info = typer.Option(default, *names, help=field_help(field.name))
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=info,
                             annotation=annotation)


# Signals: SIGTERM ends a run as Ctrl-C does (best image kept); `main` reads
# which one it was to choose the exit code.
received: dict = {"signal": None}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so the run keeps its best image."""


def on_sigterm(signum, frame):
    from tfstyle.workflows import stopping

    received["signal"] = signal.SIGTERM
    if stopping.should_raise():
        raise Terminated()


def on_sigint(signum, frame):
    from tfstyle.workflows import stopping

    received["signal"] = signal.SIGINT
    if stopping.should_raise():
        raise KeyboardInterrupt()
