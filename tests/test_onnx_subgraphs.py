"""Naming unnamed subgraphs in hand-built ONNX wire bytes (field numbers from onnx.proto)."""

from __future__ import annotations

import pytest

from shopper.asr.onnx_subgraphs import WireFormatError, name_subgraphs


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def graph(*parts: bytes) -> bytes:
    return b"".join(parts)


def if_node(then_branch: bytes, else_branch: bytes) -> bytes:
    return (
        field(4, b"If")
        + field(5, field(1, b"then") + field(6, then_branch))
        + (field(5, field(1, b"else") + field(6, else_branch)))
    )


WEIGHTS = field(5, bytes(range(256)) * 4)
"""An initializer, copied through untouched."""


def test_unnamed_subgraphs_get_names_and_everything_else_is_kept() -> None:
    named_branch = graph(field(2, b"kept"), field(1, field(4, b"Add")))
    unnamed_branch = graph(field(1, field(4, b"Mul")), WEIGHTS)
    model = (
        varint(1 << 3)
        + varint(8)
        + field(
            7, graph(field(1, if_node(unnamed_branch, named_branch)), field(2, b"main"), WEIGHTS)
        )
    )
    expected = (
        varint(1 << 3)
        + varint(8)
        + field(
            7,
            graph(
                field(1, if_node(field(2, b"subgraph_1") + unnamed_branch, named_branch)),
                field(2, b"main"),
                WEIGHTS,
            ),
        )
    )
    assert name_subgraphs(model) == expected
    assert name_subgraphs(expected) == expected


def test_nested_subgraphs_are_numbered_in_order() -> None:
    inner = if_node(graph(field(4, b"x")), graph(field(4, b"y")))
    model = field(7, graph(field(2, b"main"), field(1, if_node(graph(field(1, inner)), b""))))
    named = name_subgraphs(model)
    for name in (b"subgraph_1", b"subgraph_2", b"subgraph_3", b"subgraph_4"):
        assert named.count(field(2, name)) == 1


def test_cut_bytes_are_an_error() -> None:
    model = field(7, graph(field(2, b"main"), WEIGHTS))
    with pytest.raises(WireFormatError, match="runs past the end"):
        name_subgraphs(model[:-10])
