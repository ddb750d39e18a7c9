// Test stub: the part of TFLM's TfLiteTensor / TfLiteStatus the generated code uses.
#ifndef TFLM_STUB_COMMON_H
#define TFLM_STUB_COMMON_H
#include <stddef.h>
#include <stdint.h>

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;

typedef union TfLitePtrUnion {
  int32_t* i32;
  int16_t* i16;
  int8_t* int8;
  uint8_t* uint8;
  float* f;
  void* data;
} TfLitePtrUnion;

typedef struct TfLiteTensor {
  TfLitePtrUnion data;
  size_t bytes;
} TfLiteTensor;
#endif
