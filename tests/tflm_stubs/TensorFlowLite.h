// Test stub: the Arduino TFLM library's umbrella header (empty: sketches include it so the
// Arduino builder finds the library).
