"""Read and write a .tflite flatbuffer as the object tree of LiteRT's schema (for graph fixes)."""

from __future__ import annotations

from typing import Any

UNIDIRECTIONAL_SEQUENCE_LSTM = 44  # BuiltinOperator
FULLY_CONNECTED = 9


def unpack(flatbuffer: bytes) -> Any:
    """The schema's ModelT of `flatbuffer`."""
    from ai_edge_litert import schema_py_generated as schema

    return schema.ModelT.InitFromPackedBuf(flatbuffer, 0)


def pack(model: Any, size_hint: int) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def builtin_code(model: Any, op: Any) -> int:
    """The op's BuiltinOperator (old files keep small codes in the deprecated field)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
