"""Names the nameless subgraphs of an ONNX model, working on the protobuf wire format.

onnxruntime re-serialises an ORT-format model as ONNX with its `If` branches unnamed, and
then refuses to load that ONNX ("Field 'name' of 'graph' is required to be non-empty"). Only
the few messages on the path from the model to each subgraph are decoded; everything else
(the weights above all) is copied through as raw bytes, so no ONNX schema package is needed.

Wire-format field numbers, from onnx.proto: ModelProto.graph = 7; GraphProto.node = 1,
GraphProto.name = 2; NodeProto.attribute = 5; AttributeProto.g = 6, AttributeProto.graphs = 11.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5

_MODEL_GRAPH = 7
_GRAPH_NODE = 1
_GRAPH_NAME = 2
_NODE_ATTRIBUTE = 5
_ATTRIBUTE_GRAPH = 6
_ATTRIBUTE_GRAPHS = 11


class WireFormatError(ValueError):
    """The bytes are not a protobuf message this module can walk."""


def name_subgraphs(model: bytes) -> bytes:
    """The serialised ModelProto with every unnamed graph named `subgraph_<n>`."""
    names = iter(range(1, 1 << 31))
    return _rewrite(model, {_MODEL_GRAPH: lambda graph: _graph(graph, names)})


def _graph(graph: bytes, names: Iterator[int]) -> bytes:
    named = any(number == _GRAPH_NAME and value for number, _, value in _fields(graph))
    nodes = {_GRAPH_NODE: lambda node: _node(node, names)}
    rewritten = _rewrite(graph, nodes, drop=None if named else _GRAPH_NAME)
    if named:
        return rewritten
    return _length_delimited(_GRAPH_NAME, f"subgraph_{next(names)}".encode()) + rewritten


def _node(node: bytes, names: Iterator[int]) -> bytes:
    return _rewrite(node, {_NODE_ATTRIBUTE: lambda attribute: _attribute(attribute, names)})


def _attribute(attribute: bytes, names: Iterator[int]) -> bytes:
    def subgraph(graph: bytes) -> bytes:
        return _graph(graph, names)

    return _rewrite(attribute, {_ATTRIBUTE_GRAPH: subgraph, _ATTRIBUTE_GRAPHS: subgraph})


def _rewrite(
    message: bytes, rewriters: dict[int, Callable[[bytes], bytes]], drop: int | None = None
) -> bytes:
    """The message with the length-delimited fields in `rewriters` rewritten, `drop` left out
    and everything else copied byte for byte."""
    parts: list[bytes] = []
    for number, raw, value in _fields(message):
        if number == drop:
            continue
        rewriter = rewriters.get(number)
        parts.append(_length_delimited(number, rewriter(value)) if rewriter else raw)
    return b"".join(parts)


def _fields(message: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(field number, the field's raw bytes, its payload when length-delimited else b"")."""
    position = 0
    while position < len(message):
        start = position
        key, position = _read_varint(message, position)
        number, wire_type = key >> 3, key & 7
        payload = b""
        if wire_type == _VARINT:
            _, position = _read_varint(message, position)
        elif wire_type == _FIXED64:
            position += 8
        elif wire_type == _FIXED32:
            position += 4
        elif wire_type == _LENGTH_DELIMITED:
            length, begin = _read_varint(message, position)
            position = begin + length
            payload = message[begin:position]
        else:
            raise WireFormatError(f"unsupported wire type {wire_type} at byte {start}")
        if position > len(message):
            raise WireFormatError(f"field {number} at byte {start} runs past the end")
        yield number, message[start:position], payload


def _read_varint(message: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(message):
            raise WireFormatError("truncated varint")
        byte = message[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload
