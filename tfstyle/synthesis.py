"""The paper's image synthesis: optimise pixels against an Objective.

    import tfstyle
    content = tfstyle.load_image("photo.jpg", max_size=512)
    style = tfstyle.load_image("painting.jpg")
    result = tfstyle.stylize(content, style, tfstyle.StyleConfig(weights="random"))
    tfstyle.save_image("out.png", result.image)

`stylize` also covers the paper's other experiments: with no style image it
reconstructs the content (`reconstruct_content`), with no content image it
synthesises a texture (`synthesize_texture`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import color
from .config import StyleConfig
from .errors import ConfigError, NonFiniteLossError
from .lbfgs_device import minimize_lbfgs_device
from .objective import Objective
from .optim import STOP_NONFINITE, minimize_adam, minimize_lbfgs
from .preprocess import fit_size, resize, resize_mask, white_noise
from .tiling import GB, check_optimizer_memory, optimizer_bytes, plan_tiles, tile_side


def _same(x):
    return x


@dataclass
class Iterate:
    """What the callback hears after every iteration."""
    iteration: int  # counted over the whole run, across scales
    total: float  # the weighted sum of the terms
    terms: dict[str, float]  # {term name: unweighted value}, as the Objective names them
    seconds: float  # since the run started
    point: Any = field(repr=False)  # the optimised pixels, NumPy or a device tensor
    size: tuple[int, int]  # (height, width) of the current scale
    scale: int  # index into the coarse-to-fine schedule
    render: Callable[[np.ndarray], np.ndarray] = field(default=_same, repr=False)
    jit: str = ""  # which path evaluates the objective, and why (JitChoice.description)

    @property
    def x(self) -> np.ndarray:
        """The optimised (H, W, 3) pixels; copy them to keep them. Under
        lbfgs-device they leave the device only when someone looks."""
        if not isinstance(self.point, np.ndarray):
            self.point = np.asarray(self.point)
        return self.point

    @property
    def image(self) -> np.ndarray:
        """The image as the run's output would show it now: `x`, or under
        luminance-only transfer `x`'s luminance in the photo's colours.
        Computed on demand, so iterations nobody looks at cost nothing."""
        return self.render(self.x)

    def record(self) -> dict:
        return {"iteration": self.iteration, "total": self.total, **self.terms,
                "seconds": round(self.seconds, 4), "size": list(self.size)}


@dataclass
class ScalePlan:
    """One scale of a run as planned before it starts (see plan_scales)."""
    size: tuple[int, int]  # (height, width)
    iterations: int
    tiles: str  # TilePlan.describe(): "untiled" or the grid, tile size and overhead
    optimizer_gb: float  # the optimiser's image-sized buffers at this size

    def describe(self) -> str:
        return (f"{self.size[1]}x{self.size[0]} px, {self.iterations} iterations, {self.tiles}, "
                f"optimiser {self.optimizer_gb:.2f} GB")


@dataclass
class Result:
    image: np.ndarray  # (H, W, 3) uint8, the best image found
    history: list[dict]  # one Iterate.record() per iteration
    config: StyleConfig
    stop_reason: str  # iterations, callback, interrupted, nonfinite, converged
    iterations: int
    seconds: float
    weights: str  # where the VGG19 weights came from
    traces: int = 0  # tf.function traces, one per scale when all is well
    jit: list = field(default_factory=list)  # per scale: its size and JitChoice.to_dict()
    initial: dict = field(default_factory=dict)  # the terms at the starting image
    final: np.ndarray | None = field(default=None, repr=False)  # float image

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"


def stylize(content, style, config: StyleConfig = StyleConfig(), extractor=None,
            callback=None, size=None, init_image=None, start_iteration: int = 0,
            masks=None, style_masks=None, temporal=None, on_plan=None, on_tile=None) -> Result:
    """Render `content` in the style of `style` by optimising the pixels.

    content: (H, W, 3) RGB float in [0, 255], or None for a texture.
    style: one such array, a list of them (blended by config.style_blend),
        or None to reconstruct the content alone.
    extractor: a FeatureExtractor (or any callable returning
        {layer: features}); built from config when None and reused across
        scales.
    callback: called with an Iterate after every iteration; returning False
        ends the run. KeyboardInterrupt also ends it. Either way the best
        image so far is returned.
    size: (height, width) of a texture when content is None.
    init_image: the starting image (resized to the output size); overrides
        config.init, and is required when config.init names a file (stylize
        reads no files). Used to resume a run.
    masks: spatial control (Gatys et al. 2017): one (H, W) mask in [0, 1]
        over the content per style image; each style shapes only its region,
        and pixels no mask covers keep only the content loss.
    style_masks: per style image, an (h, w) mask of the part of the
        painting its statistics come from, or None for all of it.
    Masks are resized with the images at every scale.
    temporal: for a video frame, (gamma, the previous stylised frame warped
        onto this one, the flow's reliability (H, W)): the temporal loss of
        Ruder et al. (2016). Resized with the images at every scale.
    on_plan: called once, before any work, with the [ScalePlan] chosen.
    on_tile: called with (tile, tiles, pass 1 or 2) during a tiled
        evaluation (see tiled.TiledEvaluation).
    """
    styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
    if content is None and not styles:
        raise ConfigError(None, "stylize needs a content image, a style image, or both")
    if init_image is None and config.init_path is not None:
        raise ConfigError("init", f"{config.init} names an image file; load it "
                                  "(tfstyle.load_image) and pass it as init_image")
    if extractor is None:
        from .extractor import FeatureExtractor
        extractor = FeatureExtractor.for_config(
            config, config.layers_for(content is not None, bool(styles)))
    if content is not None:
        content = np.asarray(content, np.float32)
        final_size = _fit_down(content.shape, config.max_size)
    else:
        final_size = tuple(size) if size else _fit_down(styles[0].shape, config.max_size)
    schedule = config.schedule_for(max(final_size))
    layers = config.layers_for(content is not None, bool(styles))
    check_optimizer_memory(final_size, config)  # before any work
    # One tile size for every scale, the final one's: the memory TensorFlow
    # takes for an evaluation stays with the process (a high-water mark),
    # so a coarser scale must not use larger tiles than the final scale's
    # budget allows beside its larger optimiser buffers.
    run_config = config.replace(tile_size=tile_side(config, final_size, layers) or 0)
    if on_plan is not None:
        on_plan(plan_scales(final_size, schedule, run_config, layers))
    network_content, styles = _color_inputs(content, styles, config.preserve_color)
    render = _same
    if config.preserve_color == "luminance" and content is not None:
        # The network sees grey images; what the user sees is the photo's
        # colours on the optimised luminance, at every size.
        def render(x):
            return color.recombine(x, resize(content, x.shape[:2]))
        if init_image is not None:
            init_image = color.grey(color.luminance(np.asarray(init_image, np.float32)))
        if temporal is not None:  # the frame is optimised in luminance, so is its target
            temporal = (temporal[0], color.grey(color.luminance(
                np.asarray(temporal[1], np.float32))), temporal[2])

    start = time.perf_counter()
    history: list[dict] = []
    initial: dict = {}
    image, reason, done, traces = None, "iterations", start_iteration, 0
    jit_choices: list[dict] = []
    for index, (longest, iterations) in enumerate(schedule):
        shape = _scale_shape(final_size, longest)
        if iterations <= 0:
            continue
        scaled_content = None if network_content is None else resize(network_content, shape)
        scaled_styles = [_style_at(s, shape, config.style_scale) for s in styles]
        scaled_masks = None if masks is None else [resize_mask(m, shape) for m in masks]
        scaled_style_masks = None if style_masks is None else [
            None if m is None else resize_mask(m, s.shape[:2])
            for m, s in zip(style_masks, scaled_styles)]
        scaled_temporal = None if temporal is None else (
            temporal[0], resize(np.asarray(temporal[1], np.float32), shape),
            resize_mask(temporal[2], shape))
        objective = Objective(scaled_content, scaled_styles or None, run_config, extractor,
                              masks=scaled_masks, style_masks=scaled_style_masks,
                              temporal=scaled_temporal, size=shape, on_tile=on_tile)
        objective.check_image(shape + (3,))
        if image is None:
            x0 = _initial_image(config, shape, scaled_content, scaled_styles, init_image)
        else:
            x0 = resize(image, shape)  # coarse-to-fine: the last result, upsampled
        outcome = _optimize(objective, x0, config, iterations, callback, history, start,
                            done, index, initial, render)
        image, reason, done = outcome.x.astype(np.float32), outcome.stop_reason, done + outcome.iterations
        traces += objective.traces
        if objective.jit_choice is not None:
            jit_choices.append({"size": list(shape), **objective.jit_choice.to_dict()})
        if reason not in ("iterations", "converged"):
            break

    if image is None:
        raise ConfigError("scale_iterations", "the schedule has no iterations to run")
    image = render(image)
    result = Result(image=np.clip(np.rint(image), 0, 255).astype(np.uint8), history=history,
                    config=config, stop_reason=reason, iterations=done,
                    seconds=time.perf_counter() - start,
                    weights=getattr(extractor, "weights_source", "custom"), traces=traces,
                    jit=jit_choices,
                    final=image, initial=initial)
    if reason == STOP_NONFINITE:
        error = NonFiniteLossError(
            f"the loss became NaN or infinite after {done} iterations; try a smaller "
            "beta or tv_weight, a smaller learning rate, or --precision float32")
        error.result = result  # the last finite image, for the caller to save
        raise error
    return result


def plan_scales(final_size, schedule, config: StyleConfig, layers) -> list[ScalePlan]:
    """Each scale's size, iterations, tiles (of config.tile_size; auto is
    decided per scale) and optimiser memory."""
    plans = []
    for longest, iterations in schedule:
        shape = _scale_shape(final_size, longest)
        tiles = plan_tiles(shape, layers, tile_side(config, shape, layers))
        optimizer = optimizer_bytes(shape[0] * shape[1], config)
        plans.append(ScalePlan(tuple(shape), iterations, tiles.describe(), optimizer / GB))
    return plans


def _scale_shape(final_size, longest):
    return tuple(final_size) if longest is None else _fit_down(final_size, longest, upscale=True)


def _optimize(objective, x0, config, iterations, callback, history, start, offset, scale,
              initial, render):
    """Run the chosen driver on one scale, recording every iterate (and, in
    `initial`, the terms at the run's first point, which both drivers
    evaluate first)."""
    last = {}

    def seen(x, total, terms):
        last["x"], last["terms"] = x, terms
        if not initial:
            initial.update(total=total, **terms)

    def fun(x):
        total, grad, terms = objective.evaluate(x)
        seen(x, total, terms)
        return total, grad

    def fun_on_device(x):
        values, grad = objective.evaluate_tensor(x)
        total, terms = objective.named(values)
        seen(x, total, terms)
        return total, grad

    def on_iterate(step, x, value):
        # Drivers report the point they evaluated last; should one not, its
        # terms are unknown rather than borrowed from another point.
        if last.get("x") is x or (isinstance(x, np.ndarray) and last.get("x") is not None
                                   and np.array_equal(last["x"], x)):
            terms = last["terms"]
        else:
            terms = {name: float("nan") for name in objective.term_names}
        it = Iterate(iteration=offset + step, total=value, terms=terms,
                     seconds=time.perf_counter() - start, point=x, size=tuple(x.shape[:2]),
                     scale=scale, render=render,
                     jit=objective.jit_choice.description)
        history.append(it.record())
        if callback is not None:
            return callback(it)
        return None

    bounds = (0.0, 255.0)
    if config.optimizer == "adam":
        return minimize_adam(fun, x0, bounds, iterations, on_iterate,
                             learning_rate=config.learning_rate)
    if config.optimizer == "lbfgs-device":
        return minimize_lbfgs_device(fun_on_device, x0, bounds, iterations, on_iterate,
                                     history_size=config.history_size)
    return minimize_lbfgs(fun, x0, bounds, iterations, on_iterate,
                          history_size=config.history_size)


def _color_inputs(content, styles, method):
    """What the network sees under colour preservation (Gatys et al. 2016):
    grey images for luminance-only transfer, or styles recoloured to the
    photo's colour statistics."""
    if content is None or method is None:
        return content, styles
    if method == "histogram":
        return content, [color.match_histogram(s, content) for s in styles]
    content_y = color.luminance(content)
    styles = [color.grey(color.match_luminance(color.luminance(s), content_y)) for s in styles]
    return color.grey(content_y), styles


def _initial_image(config, shape, content, styles, init_image):
    """init None starts a transfer at the photo and anything else at noise."""
    if init_image is not None:
        return resize(np.asarray(init_image, np.float32), shape)
    if config.init in ("content", None) and content is not None:
        return content.copy()
    if config.init == "style" and styles:
        return resize(styles[0], shape)
    return white_noise(shape, config.seed)


def _style_at(style, shape, style_scale):
    """The style image with its longest side at style_scale x the output's."""
    longest = max(16, round(max(shape) * style_scale))
    return resize(style, fit_size(style.shape, longest))


def _fit_down(shape, longest, upscale=False):
    """(height, width) with the longest side at most `longest` (or exactly)."""
    height, width = shape[:2]
    if max(height, width) <= longest and not upscale:
        return (height, width)
    return fit_size((height, width), longest)


def paper_start(config: StyleConfig) -> StyleConfig:
    """The paper starts every synthesis from white noise; a config that names
    another start (config.init) keeps it."""
    return config if config.init is not None else config.replace(init="noise")


def reconstruct_content(image, layer: str = "conv4_2", config: StyleConfig | None = None,
                        **kwargs) -> Result:
    """Fig. 1, top row: white noise optimised to match one layer's features."""
    config = paper_start(config or StyleConfig()).replace(
        content_layers=(layer,), content_weights=None, beta=0.0)
    return stylize(image, None, config, **kwargs)


def synthesize_texture(image, layers=None, config: StyleConfig | None = None, size=None,
                       **kwargs) -> Result:
    """Fig. 1, bottom row: white noise optimised to match Gram matrices only."""
    config = paper_start(config or StyleConfig())
    config = config.replace(style_layers=tuple(layers or config.style_layers),
                            style_weights=None, alpha=0.0)
    return stylize(None, image, config, size=size, **kwargs)
