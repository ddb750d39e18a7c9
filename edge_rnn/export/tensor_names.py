"""Cut the converter's fused tensor names down to their first source name.

When TF 2.21's converter merges ops it names the result after all of them, joined by ';': in
an unrolled layer every UNPACK output is called after all T unstack ops, so a 50-step GRU(16)
int8 file held 143 KB of names in 245 KB. Nothing reads past the first name (LiteRT and TFLite
Micro address tensors by index; edge-rnn's localizer maps a tensor to its layer by the first).
"""

from __future__ import annotations

from edge_rnn.export.flatbuffer import pack, unpack


def shorten_fused_names(flatbuffer: bytes) -> tuple[bytes, int]:
    """(the model with every 'a;b;...' tensor name cut to 'a', the bytes of names removed)."""
    model = unpack(flatbuffer)
    removed = 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            name = tensor.name if isinstance(tensor.name, bytes) else str(tensor.name).encode()
            first = name.split(b";", 1)[0]
            if first != name:
                removed += len(name) - len(first)
                tensor.name = first
    if not removed:
        return flatbuffer, 0
    return pack(model, len(flatbuffer)), removed
