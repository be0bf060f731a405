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

import dataclasses
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from . import color
from .. import faults
from ..config import StyleConfig
from ..errors import ConfigError, NonFiniteLossError
from ..events import Iterate, Planned, as_is, emit
from ..optim.lbfgs_device import minimize_lbfgs_device, minimize_lbfgs_host
from .objective import Objective
from ..optim.drivers import (STOP_CONVERGED, STOP_INTERRUPTED, STOP_ITERATIONS, STOP_NONFINITE,
                             minimize_adam, minimize_lbfgs)
from ..plan import Position, RunPlan, Start, fit_down, plan_run, remaining
from ..preprocess import fit_size, resize, resize_mask, to_uint8, white_noise
from .scales import fit_memory, plan_scales


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
    final: np.ndarray | None = field(default=None, repr=False)  # float image, as shown
    plan: RunPlan | None = None  # what the run was to do
    position: Position = field(default_factory=Position)  # where it stood at the end
    point: np.ndarray | None = field(default=None, repr=False)  # the optimised float pixels
    scales: list = field(default_factory=list)  # per scale run: size, planned, ran, stop
    memory: str = ""  # the memory plan (memory.MemoryPlan.describe)
    driver: str = ""  # the optimiser that ran: config.optimizer, or lbfgs-projected

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"

    @property
    def stopped(self) -> bool:
        """Ended short of its plan at someone's word: Ctrl-C or a signal
        (interrupted), or a callback's False before the plan's last
        iteration. Its record says interrupted (workflows.runs.status_of),
        so it resumes and is never kept as finished."""
        if self.stop_reason == "interrupted":
            return True
        return self.stop_reason == "callback" and (
            self.plan is None or self.plan.done(self.position) < self.plan.total)


def stylize(content, style, config: StyleConfig = StyleConfig(), extractor=None,
            callback=None, size=None, init_image=None, start_iteration: int = 0,
            masks=None, style_masks=None, temporal=None,
            plan: RunPlan | None = None, start: Start | None = None,
            total: int | None = None, paintings=None) -> Result:
    """Render `content` in the style of `style` by optimising the pixels.

    content: (H, W, 3) RGB float in [0, 255], or None for a texture.
    style: one such array, a list of them (blended by config.style_blend),
        or None to reconstruct the content alone.
    extractor: a FeatureExtractor (or any callable returning {layer:
        features}); built from config when None; reused across scales.
    callback: hears the run's events (tfstyle.events): `Planned` once,
        before any work, with every scale's size, iterations, tiles and
        memory; an `Iterate` after every iteration, where returning False
        ends the run; `TileDone` as a tiled evaluation goes.
        KeyboardInterrupt, at any moment (while a scale's targets are
        encoded too), also ends it. Either way the best image so far is
        returned, with the position it stood at.
    size: (height, width) of a texture when content is None.
    init_image: the starting image (resized to the output size); overrides
        config.init, and is required when config.init names a file (stylize
        reads no files).
    masks: spatial control (Gatys et al. 2017): one (H, W) mask in [0, 1]
        over the content per style image; each style shapes only its region,
        and pixels no mask covers keep only the content loss.
    style_masks: per style image, an (h, w) mask of the part of the
        painting its statistics come from, or None for all of it.
    Masks are resized with the images at every scale.
    temporal: for a video frame, (gamma, the previous stylised frame warped
        onto this one, the flow's reliability (H, W)): the temporal loss of
        Ruder et al. (2016). Resized with the images at every scale.
    plan: the run plan (plan.plan_run); by default config's schedule at the
        output's size. start: where a resumed run picks up (a Start), and
        total: the iterations the whole run should reach (default the
        plan's); plan.remaining says what is left to run.
    paintings: an EncodedPaintings (tfstyle.core.paintings) kept across
        calls, so a video's frames encode their paintings once.
    """
    styles = _checked_inputs(content, style, config, init_image, start)
    layers = config.layers_for(content is not None, bool(styles))
    if extractor is None:
        from .extractor import FeatureExtractor
        extractor = FeatureExtractor.for_config(config, layers)
    content = None if content is None else np.asarray(content, np.float32)
    if plan is None:
        plan = plan_run(config, _final_size(content, styles, size, config.max_size))
    run_config, memory = fit_memory(plan, config, layers)  # before any work
    plan = dataclasses.replace(plan, driver=memory.driver)
    scene = _Scene(content, styles, masks, style_masks, temporal, init_image, config, paintings)
    run = _Run(plan, config, callback, start, start_iteration, scene.render, memory)
    if run.announce(Planned(tuple(plan_scales(plan, run_config, layers, memory.driver)), plan)):
        for index, scale in remaining(plan, run.position, total, run.done):
            if not run.scale(index, scale, scene, run_config, extractor, callback):
                break
    return run.result(getattr(extractor, "weights_source", "custom"))


class _Scene:
    """The images of a run as the network sees them, at any scale."""

    def __init__(self, content, styles, masks, style_masks, temporal, init_image, config,
                 paintings=None):
        self.config, self.masks, self.style_masks = config, masks, style_masks
        self.paintings = paintings
        self.content, self.styles = _color_inputs(content, styles, config.preserve_color)
        self.init_image, self.temporal = init_image, temporal
        self.render = as_is
        if config.preserve_color == "luminance" and content is not None:
            # The network sees grey images; what the user sees is the photo's
            # colours on the optimised luminance, at every size.
            def render(x):
                return color.recombine(x, resize(content, x.shape[:2]))
            self.render = render
            if init_image is not None:
                self.init_image = color.grey(color.luminance(np.asarray(init_image, np.float32)))
            if temporal is not None:  # the frame is optimised in luminance, so is its target
                self.temporal = (temporal[0], color.grey(color.luminance(
                    np.asarray(temporal[1], np.float32))), temporal[2])

    def objective(self, shape, run_config, extractor, callback) -> Objective:
        """The objective at one scale: its targets encoded at that size."""
        content = None if self.content is None else resize(self.content, shape)
        styles = [_style_at(s, shape, self.config.style_scale) for s in self.styles]
        masks = None if self.masks is None else [resize_mask(m, shape) for m in self.masks]
        style_masks = None if self.style_masks is None else [
            None if m is None else resize_mask(m, s.shape[:2])
            for m, s in zip(self.style_masks, styles)]
        temporal = None if self.temporal is None else (
            self.temporal[0], resize(np.asarray(self.temporal[1], np.float32), shape),
            resize_mask(self.temporal[2], shape))
        objective = Objective(content, styles or None, run_config, extractor, masks=masks,
                              style_masks=style_masks, temporal=temporal, size=shape,
                              callback=callback, paintings=self.paintings)
        objective.check_image(shape + (3,))
        self.scaled = (content, styles)
        return objective

    def initial_image(self, shape) -> np.ndarray:
        content, styles = self.scaled
        return _initial_image(self.config, shape, content, styles, self.init_image)


class _Run:
    """A run's state across its scales: the point, where it stands, what it
    heard. `scale` runs one scale and says whether to go on."""

    def __init__(self, plan, config, callback, start, start_iteration, render, memory):
        self.plan, self.config, self.callback, self.render = plan, config, callback, render
        self.memory = memory
        self.position = start.position if start is not None else Position()
        self.done = start.done if start is not None else start_iteration
        self.point = None if start is None else np.asarray(start.x, np.float32)
        self.clock = time.perf_counter()
        self.history, self.initial, self.jit, self.scales = [], {}, [], []
        self.reason, self.traces = STOP_ITERATIONS, 0

    def announce(self, planned: Planned) -> bool:
        """Tell the callback the plan; a stop there ends the run before any
        work, as a stop anywhere else does (a resumed run keeps its start)."""
        try:
            emit(self.callback, planned)
        except KeyboardInterrupt:
            self.reason = STOP_INTERRUPTED
            return False
        return True

    def scale(self, index, scale, scene, run_config, extractor, callback) -> bool:
        shape = tuple(scale.size)
        offset = self.position.done_in_scale if self.position.scale == index else 0
        try:
            faults.reached("scale")
            objective = scene.objective(shape, run_config, extractor, callback)
            if self.point is None:
                x0 = scene.initial_image(shape)
            else:  # a checkpoint, or coarse-to-fine: the last result, upsampled
                x0 = self.point if self.point.shape[:2] == shape else resize(self.point, shape)
            outcome = _optimize(objective, x0, self.memory.driver, scale.iterations, self.callback,
                                self.history, self.clock, self.done, index, self.initial,
                                self.render, (offset, offset + scale.iterations))
        except KeyboardInterrupt:  # between scales, or while targets are encoded
            self.reason = STOP_INTERRUPTED
            return False
        self.point = outcome.x.astype(np.float32)
        self.done += outcome.iterations
        self.reason, self.traces = outcome.stop_reason, self.traces + objective.traces
        self.scales.append({"scale": index, "size": list(shape),
                            "planned": self.plan.scales[index].iterations,
                            "ran": offset + outcome.iterations, "stop_reason": self.reason})
        if objective.jit_choice is not None:
            self.jit.append({"size": list(shape), **objective.jit_choice.to_dict()})
        going_on = self.reason in (STOP_ITERATIONS, STOP_CONVERGED)
        # A finished (or converged) scale hands on to the next one.
        self.position = Position(index + 1, 0) if going_on and index + 1 < len(
            self.plan.scales) else Position(index, offset + outcome.iterations)
        return going_on

    def result(self, weights: str) -> Result:
        if self.point is None and self.reason == STOP_INTERRUPTED:
            raise KeyboardInterrupt  # before the first iterate: nothing to keep yet
        if self.point is None:
            raise ConfigError("scale_iterations", "the schedule has no iterations to run")
        image = self.render(self.point)
        result = Result(image=to_uint8(image), history=self.history, config=self.config,
                        stop_reason=self.reason, iterations=self.done,
                        seconds=time.perf_counter() - self.clock, weights=weights,
                        traces=self.traces, jit=self.jit, initial=self.initial, final=image,
                        plan=self.plan, position=self.position, point=self.point,
                        scales=self.scales, memory=self.memory.describe(),
                        driver=self.memory.driver)
        if self.reason == STOP_NONFINITE:
            error = NonFiniteLossError(
                f"the loss became NaN or infinite after {self.done} iterations; try a smaller "
                "beta or tv_weight, a smaller learning rate, or --precision float32")
            error.result = result  # the last finite image, for the caller to save
            raise error
        return result


def _checked_inputs(content, style, config, init_image, start) -> list:
    """The style images as a list, once stylize's inputs make a run."""
    styles = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
    if content is None and not styles:
        raise ConfigError(None, "stylize needs a content image, a style image, or both")
    if init_image is None and start is None and config.init_path is not None:
        raise ConfigError("init", f"{config.init} names an image file; load it "
                                  "(tfstyle.load_image) and pass it as init_image")
    return styles


def _final_size(content, styles, size, max_size) -> tuple[int, int]:
    """The output's (height, width): the photo's, or a texture's `size` (or
    its painting's), no longer than max_size."""
    if content is None and size:
        return tuple(size)
    return fit_down((content if content is not None else styles[0]).shape, max_size)


def _optimize(objective, x0, driver, iterations, callback, history, start, offset, scale,
              initial, render, span=(0, 0)):
    """Run the chosen driver on one scale, recording every iterate (and, in
    `initial`, the terms at the run's first point, which both drivers
    evaluate first). span: (done, planned) iterations of this scale at its
    start and its end, for the Iterates."""
    last, trials = {}, []  # trials: (weak reference, terms) of this line search's tensors

    def seen(x, total, terms):
        last["x"], last["terms"] = x, terms
        if not isinstance(x, np.ndarray):
            trials.append((weakref.ref(x), terms))
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
        terms = _terms_at(objective, last, x, trials)
        trials.clear()
        it = Iterate(iteration=offset + step, total=value, terms=terms,
                     seconds=time.perf_counter() - start, point=x, size=tuple(x.shape[:2]),
                     scale=scale, render=render, jit=objective.jit_choice.description,
                     done_in_scale=span[0] + step, scale_iterations=span[1])
        history.append(it.record())
        result = callback(it) if callback is not None else None
        faults.reached("iteration")
        return result

    bounds, config = (0.0, 255.0), objective.config
    if driver == "adam":
        return minimize_adam(fun, x0, bounds, iterations, on_iterate,
                             learning_rate=config.learning_rate)
    if driver in ("lbfgs-device", "lbfgs-projected"):
        minimize = minimize_lbfgs_device if driver == "lbfgs-device" else minimize_lbfgs_host
        return minimize(fun_on_device, x0, bounds, iterations, on_iterate,
                        history_size=config.history_size)
    return minimize_lbfgs(fun, x0, bounds, iterations, on_iterate,
                          history_size=config.history_size)


def _terms_at(objective, last, x, trials=()) -> dict:
    """The terms at the iterate `x`: those of the point evaluated last, or of
    the earlier trial point a driver accepted (lbfgs-device may), or, should
    neither be it, of `x` evaluated again: a record never borrows another
    point's terms, nor holds NaN for them."""
    if last.get("x") is x or (isinstance(x, np.ndarray) and last.get("x") is not None
                               and np.array_equal(last["x"], x)):
        return last["terms"]
    for ref, terms in trials:
        if ref() is x:
            return terms
    values = objective.values(np.asarray(x))
    return {name: float(values[name]) for name in objective.term_names}


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
