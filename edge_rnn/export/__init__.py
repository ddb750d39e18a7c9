"""Conversion to TFLite and ONNX (each in a child process with a timeout) and inspection."""
