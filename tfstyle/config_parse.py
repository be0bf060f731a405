"""Settings from text, and the checks that quote a bad value.

What `StyleConfig` (tfstyle.config) needs to take its fields from the CLI,
a CSV cell, a form or JSON, knowing nothing of which fields it has: a
field's type hint is passed in. Every check raises ConfigError naming the
setting and the value received, as keras's argument checks do.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path

from .errors import ConfigError
from .layers import CONV_LAYERS


def parse_list(option: str, text: str, kind=str) -> tuple:
    """'a, b,c' -> ('a', 'b', 'c'), each item as `kind` (str, float or int).

    The one parser of comma-separated lists, for config fields and for the
    CLI's own lists (figure ratios, bench sizes).
    """
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        return tuple(kind(p) for p in parts)
    except ValueError:
        what = {float: "numbers", int: "whole numbers"}.get(kind, "values")
        raise ConfigError(option, f"expected comma-separated {what}, received {text!r}") from None


def item_type(hint):
    """str, float or int for a hint of a tuple (a comma-separated list), else None."""
    for part in (hint, *typing.get_args(hint)):
        if typing.get_origin(part) is tuple:
            return typing.get_args(part)[0]
    return None


def is_optional(hint) -> bool:
    return type(None) in typing.get_args(hint)


def is_numeric(hint) -> bool:
    return any(k in (int, float) for k in (hint, *typing.get_args(hint)))


def parse_value(name: str, value, hint):
    """A value of type `hint` from text; anything but text, and lists
    (which StyleConfig parses), are returned as they are."""
    if not isinstance(value, str) or item_type(hint) is not None:
        return value
    kinds = [k for k in (hint, *typing.get_args(hint)) if k in (bool, int, float)]
    text = value.strip()
    if not kinds:
        return None if text.lower() in ("", "none") and is_optional(hint) else text
    kind = kinds[0]
    if str in typing.get_args(hint) and not text.lstrip("-").isdigit():
        return text  # a word where a number may stand, e.g. tile_size auto
    if kind is bool:
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if text.lower() not in words:
            raise ConfigError(name, f"expected true or false, received {value!r}")
        return words[text.lower()]
    try:
        return kind(text)
    except ValueError:
        what = {float: "a number", int: "a whole number"}[kind]
        raise ConfigError(name, f"expected {what}, received {value!r}") from None


def parse_region_styles(items) -> tuple[tuple[tuple[int, int, int], str], ...]:
    """('#rrggbb=PAINTING', ...) -> (((r, g, b), painting path), ...)."""
    pairs = []
    for item in items or ():
        colour, _, path = item.partition("=")
        colour = colour.strip().lstrip("#")
        try:
            if len(colour) != 6 or not path.strip():
                raise ValueError
            rgb = tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            raise ConfigError("region_styles", f"expected #RRGGBB=PAINTING, received "
                                               f"{item!r}") from None
        pairs.append((rgb, path.strip()))
    return tuple(pairs)


def check_layers(name, layers):
    if not layers:
        raise ConfigError(name, "at least one layer is needed")
    for layer in layers:
        if layer not in CONV_LAYERS:
            raise ConfigError(name, f"unknown layer {layer!r}; VGG19's are "
                                    f"{CONV_LAYERS[0]} ... {CONV_LAYERS[-1]}")
    if len(set(layers)) != len(layers):
        raise ConfigError(name, f"a layer is listed twice: {', '.join(layers)}")


def check_layer_weights(name, weights, layers):
    if weights is None:
        return
    if len(weights) != len(layers):
        raise ConfigError(name, f"expected {len(layers)} weights, one per layer, "
                                f"received {len(weights)}")
    for w in weights:
        check_number(name, w, minimum=0.0)


def check_number(name, value, minimum, strict=False):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"expected a number, received {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(name, f"expected a finite number, received {value!r}")
    if number < minimum or (strict and number == minimum):
        relation = "above" if strict else "at least"
        raise ConfigError(name, f"expected a number {relation} {minimum:g}, received {value!r}")


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"expected a whole number, received {value!r}")
    if value < minimum:
        raise ConfigError(name, f"expected at least {minimum}, received {value!r}")


def check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}, received {value!r}")


def legacy_normalize(value):
    """normalize as a word: True (or true, yes, 1 in a manifest) was today's
    pair, False off; anything else is kept for _check_normalize."""
    if isinstance(value, bool):
        return "pair" if value else "off"
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    return value.strip() if isinstance(value, str) else value


_BOOL_WORDS = {"true": "pair", "yes": "pair", "1": "pair", "false": "off", "no": "off", "0": "off"}


def check_normalize(value, modes):
    """A word of `modes` or a file: StyleConfig.normalize."""
    if not isinstance(value, str) or not value:
        raise ConfigError("normalize", f"expected network, pair, off or a scales file, "
                                       f"received {value!r}")
    if value in modes:
        return
    if not Path(value).expanduser().is_file():
        raise ConfigError("normalize", f"expected network, pair, off or a scales file from "
                                       f"tfstyle normalize, received {value!r} (no such file)")
