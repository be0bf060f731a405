"""VGG19's layers under the paper's names, and the one map to Keras's names.

The paper calls the second convolution of the fourth block `conv4_2`; Keras
calls it `block4_conv2`. Everything in tfstyle uses the paper's names; only
`keras_name` knows the other spelling.
"""

# (block, convolutions in the block) for VGG19's 16 convolutional layers.
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))

# Every layer of the convolutional part, in network order: 16 conv, 5 pool.
LAYERS: tuple[str, ...] = tuple(
    name
    for block, convs in _BLOCKS
    for name in [f"conv{block}_{i}" for i in range(1, convs + 1)] + [f"pool{block}"]
)
CONV_LAYERS: tuple[str, ...] = tuple(n for n in LAYERS if n.startswith("conv"))


def conv_shapes() -> dict[str, tuple]:
    """{paper_name: (3, 3, in, out)} for VGG19's 16 conv layers."""
    shapes, channels = {}, 3
    for name in CONV_LAYERS:
        width = 64 * 2 ** min(int(name[4]) - 1, 3)
        shapes[name] = (3, 3, channels, width)
        channels = width
    return shapes


def keras_name(paper_name: str) -> str:
    """`conv4_2` -> `block4_conv2`, `pool3` -> `block3_pool`."""
    if paper_name.startswith("conv"):
        block, index = paper_name[4:].split("_")
        return f"block{block}_conv{index}"
    return f"block{paper_name[4:]}_pool"


def depth(paper_name: str) -> int:
    """Position of a layer in the network (0 for conv1_1)."""
    return LAYERS.index(paper_name)


def deepest(names) -> str:
    """The layer of `names` furthest from the input."""
    return max(names, key=depth)


def min_input_size(paper_name: str) -> int:
    """Smallest height or width that still leaves one position at the layer.

    Each 2x2 pooling before the layer halves the size, so conv5_1 (after four
    poolings) needs 16 px and pool5 needs 32 px.
    """
    return 2 ** poolings_before(paper_name, inclusive=True)


def poolings_before(paper_name: str, inclusive: bool = False) -> int:
    """How many 2x2 poolings the input passes before reaching the layer."""
    stop = depth(paper_name) + (1 if inclusive else 0)
    return sum(1 for n in LAYERS[:stop] if n.startswith("pool"))
