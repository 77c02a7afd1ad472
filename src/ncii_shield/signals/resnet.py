"""dlib's face-recognition ResNet, read from its own model file and run on onnxruntime.

Why: the dlib wheel we install is built without BLAS, so its ResNet costs ~65 ms per face on one core here;
the same weights on onnxruntime cost ~4 ms and give the same 128 numbers (max difference ~1e-6 on the bundled
faces, tests/test_face_encoder.py), so every stored embedding stays comparable. Nothing is downloaded or
converted ahead of time: the weights are read from face-recognition-models' `.dat` file (the one dlib loads)
when a worker first embeds a face (~0.2 s), and the graph is held in memory.

The network is the one of dlib's dnn_face_recognition_ex.cpp ("ResNet-29", 150x150 RGB chips, 128-d output).
Its layers are listed below outermost first, exactly as dlib serialises them, and the file is checked against
that list; any other file raises `ModelFileError` and the caller falls back to dlib's own encoder.
Convolutions are followed by an affine (frozen batch-norm) layer, which is folded into the convolution.
dlib's add_prev adds tensors of different sizes by zero-padding the smaller (channels and bottom/right), which
happens where a stride-2 block meets its pooled shortcut; the graph pads explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import onnx_wire as wire

CHIP_SIZE = 150  # dlib's get_face_chip size for this model
CHIP_PADDING = 0.25  # and the padding compute_face_descriptor uses


class ModelFileError(ValueError):
    """The file is not dlib's face-recognition ResNet v1 as this module knows it."""


def _block(n: int, stride: int) -> list[tuple]:
    return [("affine",), ("con", n, 1), ("relu",), ("affine",), ("con", n, stride)]


def _ares(n: int) -> list[tuple]:
    return [("relu",), ("add_prev", 1), *_block(n, 1), ("tag", 1)]


def _ares_down(n: int) -> list[tuple]:
    return [("relu",), ("add_prev", 2), ("avg_pool",), ("skip", 1), ("tag", 2), *_block(n, 2), ("tag", 1)]


LAYERS: tuple[tuple, ...] = (
    ("fc",),
    ("avg_pool_everything",),
    *_ares_down(256),
    *_ares(256),
    *_ares(256),
    *_ares_down(256),
    *_ares(128),
    *_ares(128),
    *_ares_down(128),
    *_ares(64),
    *_ares(64),
    *_ares(64),
    *_ares_down(64),
    *_ares(32),
    *_ares(32),
    *_ares(32),
    ("max_pool",),
    ("relu",),
    ("affine",),
    ("con", 32, 2),
)


class _Reader:
    """dlib's serialisation: integers are a length/sign byte then little-endian bytes; floats are an
    integer mantissa and exponent; bools are '0'/'1'; tensors (version 2) are four sizes and raw float32."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise ModelFileError("the model file ends early")
        head = self.data[self.pos]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def str(self) -> str:
        size = self.int()
        text = self.data[self.pos : self.pos + size]
        self.pos += size
        return text.decode("latin-1")

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return mantissa * 2.0**exponent

    def bool(self) -> bool:
        char = self.data[self.pos : self.pos + 1]
        self.pos += 1
        if char not in (b"0", b"1"):
            raise ModelFileError(f"expected a flag at byte {self.pos - 1}")
        return char == b"1"

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ModelFileError(f"unknown tensor version at byte {self.pos}")
        shape = [self.int() for _ in range(4)]
        count = int(np.prod(shape, dtype=object))
        if min(shape) < 0 or self.pos + 4 * count > len(self.data):
            raise ModelFileError("a tensor runs past the end of the model file")
        array = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape)
        self.pos += 4 * count
        return array

    def alias(self) -> list[int]:
        if self.int() != 1:
            raise ModelFileError(f"unknown alias version at byte {self.pos}")
        return [self.int() for _ in range(4)]

    def expect(self, name: str) -> None:
        found = self.str()
        if found != name:
            raise ModelFileError(f"expected layer {name!r}, found {found[:40]!r}")


@dataclass
class Network:
    mean: tuple[float, float, float]  # per-channel mean dlib subtracts before dividing by 256
    layers: list[dict] = field(default_factory=list)  # details per entry of LAYERS (empty for tag/skip)


def _details(reader: _Reader, kind: str) -> dict:
    if kind == "con":
        reader.expect("con_4")
        params = reader.tensor().ravel()
        num_filters, rows, cols = reader.int(), reader.int(), reader.int()
        stride, _, pad, _ = (reader.int() for _ in range(4))
        filters, _ = reader.alias(), reader.alias()
        [reader.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
        size = int(np.prod(filters))
        if filters != [num_filters, filters[1], rows, cols] or params.size != size + num_filters:
            raise ModelFileError("a convolution's sizes do not add up")
        weights = params[:size].reshape(filters)
        return {"weights": weights, "bias": params[size:], "stride": stride, "pad": pad}
    if kind == "affine":
        reader.expect("affine_")
        params = reader.tensor().ravel()
        gamma, _ = reader.alias(), reader.alias()
        if reader.int() != 0 or params.size != 2 * gamma[1]:
            raise ModelFileError("an affine layer is not per channel")
        return {"gamma": params[: gamma[1]], "beta": params[gamma[1] :]}
    if kind in ("max_pool", "avg_pool", "avg_pool_everything"):
        reader.expect("max_pool_2" if kind == "max_pool" else "avg_pool_2")
        rows, _, stride, _, pad, _ = (reader.int() for _ in range(6))
        return {"size": rows, "stride": stride, "pad": pad}
    if kind == "fc":
        reader.expect("fc_2")
        outputs, inputs = reader.int(), reader.int()
        params = reader.tensor().ravel()
        reader.alias(), reader.alias()
        if reader.int() != 1 or params.size != inputs * outputs:  # 1: no bias
            raise ModelFileError("the last layer is not a 256x128 projection without bias")
        [reader.float() for _ in range(4)]
        return {"weights": params.reshape(inputs, outputs)}
    reader.expect(kind + "_")  # relu_, add_prev_: no parameters
    return {}


def read_network(data: bytes) -> Network:
    """Parse dlib's serialised `anet_type` (the whole file) into per-layer weights."""
    reader = _Reader(data)
    if reader.int() != 1:
        raise ModelFileError("not a dlib network file")
    reader.expect("loss_metric_2")
    reader.float(), reader.float()  # margin and distance threshold, used only in training
    versions = [reader.int() for _ in LAYERS]
    expected = [1 if layer[0] in ("tag", "skip") else 2 for layer in LAYERS[:-1]] + [3]
    if versions != expected:
        raise ModelFileError("the layers are not those of dlib's face-recognition ResNet v1")
    reader.expect("input_rgb_image_sized")
    mean = (reader.float(), reader.float(), reader.float())
    if (reader.int(), reader.int()) != (CHIP_SIZE, CHIP_SIZE):
        raise ModelFileError(f"the network does not take {CHIP_SIZE}x{CHIP_SIZE} chips")
    details: list[dict] = []
    for layer, version in zip(reversed(LAYERS), reversed(versions), strict=True):  # innermost first
        if layer[0] in ("tag", "skip"):
            details.append({})
            continue
        details.append(_details(reader, layer[0]))
        [reader.bool() for _ in range(3)]  # set-up, stale gradient and disabled flags
        [reader.tensor() for _ in range(3)]  # gradients and cached output, empty in a saved model
        if version == 3:
            reader.int()  # sample expansion factor of the input layer
    if reader.pos != len(data):
        raise ModelFileError("unexpected bytes after the network")
    return Network(mean=mean, layers=details[::-1])


def build_graph(network: Network) -> bytes:
    """The network as a serialised ONNX model: input (n, 3, 150, 150) float32, output (n, 128)."""
    nodes: list[bytes] = []
    initializers: list[bytes] = []
    counter = iter(range(1_000_000))

    def constant(array: np.ndarray, prefix: str) -> str:
        name = f"{prefix}{next(counter)}"
        initializers.append(wire.tensor(name, array))
        return name

    def emit(op: str, inputs: list[str], **attributes: int | list[int]) -> str:
        output = f"{op.lower()}{next(counter)}"
        nodes.append(wire.node(op, inputs, [output], **attributes))
        return output

    current, shape = "input", (3, CHIP_SIZE, CHIP_SIZE)  # channels, rows, columns
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}
    steps = list(zip(LAYERS, network.layers, strict=True))[::-1]  # innermost first
    index = 0
    while index < len(steps):
        (kind, *args), details = steps[index]
        if kind == "tag":
            tags[args[0]] = (current, shape)
        elif kind == "skip":
            current, shape = tags[args[0]]
        elif kind == "con":
            weights, bias = details["weights"], details["bias"]
            affine = steps[index + 1][1]  # every convolution here is followed by an affine layer: fold it in
            weights = weights * affine["gamma"][:, None, None, None]
            bias = bias * affine["gamma"] + affine["beta"]
            index += 1
            k, stride, pad = weights.shape[2], details["stride"], details["pad"]
            current = emit(
                "Conv",
                [current, constant(weights, "w"), constant(bias, "b")],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[pad] * 4,
            )
            side = 1 + (shape[1] + 2 * pad - k) // stride
            shape = (weights.shape[0], side, side)
        elif kind == "relu":
            current = emit("Relu", [current])
        elif kind in ("max_pool", "avg_pool"):
            k, stride = details["size"], details["stride"]
            op = "MaxPool" if kind == "max_pool" else "AveragePool"
            current = emit(op, [current], kernel_shape=[k, k], strides=[stride, stride])
            side = 1 + (shape[1] - k) // stride
            shape = (shape[0], side, side)
        elif kind == "add_prev":
            other, other_shape = tags[args[0]]
            target = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=True))

            def padded(name: str, have: tuple[int, int, int], want: tuple[int, ...] = target) -> str:
                if have == want:
                    return name
                pads = [0, 0, 0, 0, 0, want[0] - have[0], want[1] - have[1], want[2] - have[2]]
                return emit("Pad", [name, constant(np.array(pads, dtype=np.int64), "p")])

            current = emit("Add", [padded(current, shape), padded(other, other_shape)])
            shape = target  # type: ignore[assignment]
        elif kind == "avg_pool_everything":
            current = emit("Flatten", [emit("GlobalAveragePool", [current])])
        elif kind == "fc":
            nodes.append(wire.node("MatMul", [current, constant(details["weights"], "fc")], ["embedding"]))
        index += 1
    return wire.model(
        "dlib_face_recognition_resnet_v1",
        nodes,
        initializers,
        [wire.value_info("input", wire.FLOAT, ["n", 3, CHIP_SIZE, CHIP_SIZE])],
        [wire.value_info("embedding", wire.FLOAT, ["n", 128])],
    )


class Encoder:
    """Embeds 150x150 RGB face chips (dlib.get_face_chip with CHIP_PADDING) into dlib's 128-d space."""

    def __init__(self, model_file: str) -> None:
        import onnxruntime as ort

        with open(model_file, "rb") as handle:
            network = read_network(handle.read())
        self.mean = np.asarray(network.mean, dtype=np.float32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one scan worker per core
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(build_graph(network), options, providers=["CPUExecutionProvider"])

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """(n, 128) float32 for n chips of (150, 150, 3) uint8 RGB, as dlib's compute_face_descriptor."""
        if not chips:
            return np.zeros((0, 128), dtype=np.float32)
        batch = (np.stack(chips).astype(np.float32) - self.mean) / 256.0
        (out,) = self.session.run(None, {"input": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})
        return np.asarray(out, dtype=np.float32)


@lru_cache(maxsize=1)
def encoder() -> Encoder:
    import face_recognition_models as frm

    return Encoder(frm.face_recognition_model_location())
