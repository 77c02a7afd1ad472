"""Just enough of the ONNX protobuf format to write a model graph, without the `onnx` package.

Why: `import onnx` costs ~0.7 s in every scan worker and pulls in protobuf; writing the few messages a
convolutional graph needs (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) is
a page of code. onnxruntime parses and checks the result, so a malformed graph fails loudly at load.
Field numbers follow onnx/onnx.proto (proto2; repeated scalars written unpacked, which every parser accepts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

FLOAT, UINT8, INT64 = 1, 2, 7  # TensorProto.DataType
_ATTR_INT, _ATTR_STRING, _ATTR_INTS = 2, 3, 7  # AttributeProto.AttributeType
_DTYPES = {np.dtype("<f4"): FLOAT, np.dtype("<i8"): INT64}


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf writes negative int64s
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode())


def _attribute(name: str, value: int | str | Sequence[int]) -> bytes:
    if isinstance(value, int):
        return _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, str):
        return _str(1, name) + _str(4, value) + _int(20, _ATTR_STRING)
    return _str(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)


def node(
    op: str, inputs: Iterable[str], outputs: Iterable[str], **attributes: int | str | Sequence[int]
) -> bytes:
    """One NodeProto: an operator, its input and output tensor names ("" for an omitted optional input)
    and integer, string or integer-list attributes."""
    body = b"".join(_str(1, name) for name in inputs) + b"".join(_str(2, name) for name in outputs)
    body += _str(4, op) + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
    return body


def tensor(name: str, array: np.ndarray) -> bytes:
    """One TensorProto holding `array` as raw little-endian bytes (float32 or int64)."""
    array = np.ascontiguousarray(array)
    dtype = array.dtype.newbyteorder("<")
    if dtype not in _DTYPES:
        raise ValueError(f"cannot store {array.dtype} in a graph; use float32 or int64")
    dims = b"".join(_int(1, d) for d in array.shape)
    return (
        dims + _int(2, _DTYPES[dtype]) + _str(8, name) + _bytes(9, array.astype(dtype, copy=False).tobytes())
    )


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """A graph input or output: its name, element type and shape (a str is a symbolic dimension)."""
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    name: str,
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    opset: int = 13,
) -> bytes:
    """A serialised ModelProto (IR version 8) ready for onnxruntime.InferenceSession."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, name)
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs)
    return _int(1, 8) + _str(2, "ncii-shield") + _bytes(7, graph) + _bytes(8, _str(1, "") + _int(2, opset))
