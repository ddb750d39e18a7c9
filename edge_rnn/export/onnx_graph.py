"""Walking ONNX graphs with their subgraphs (Loop bodies), and shortening what is only a label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def subgraphs(graph: Any) -> Iterator[Any]:
    """The graphs held by the nodes of `graph` (one level down)."""
    import onnx

    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield attribute.g
            yield from attribute.graphs


def all_graphs(graph: Any) -> Iterator[Any]:
    yield graph
    for subgraph in subgraphs(graph):
        yield from all_graphs(subgraph)


def all_nodes(graph: Any) -> Iterator[Any]:
    for each in all_graphs(graph):
        yield from each.node


def all_initializers(graph: Any) -> Iterator[Any]:
    for each in all_graphs(graph):
        yield from each.initializer


def element_count(tensor: Any) -> int:
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count


def compact(model: Any) -> None:
    """Short tensor names, no node names, doc strings or inferred shapes (value_info).

    tf2onnx names every tensor after its TensorFlow scope and the quantizer appends to them, so
    names outweighed the weights of a 16-unit model. The model's own inputs and outputs keep
    their names (runners address them). Names are unique across subgraphs (ONNX forbids
    shadowing), so one mapping serves every scope."""
    kept = {value.name for value in (*model.graph.input, *model.graph.output)}
    short: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in kept:
            return name
        return short.setdefault(name, f"t{len(short)}")

    for graph in all_graphs(model.graph):
        graph.doc_string = ""
        del graph.value_info[:]
        for value in (*graph.input, *graph.output):
            value.name = rename(value.name)
        for init in graph.initializer:
            init.name = rename(init.name)
        for node in graph.node:
            node.name = ""
            node.doc_string = ""
            node.input[:] = [rename(name) for name in node.input]
            node.output[:] = [rename(name) for name in node.output]
    for index, graph in enumerate(all_graphs(model.graph)):
        graph.name = f"g{index}"
    model.doc_string = ""
