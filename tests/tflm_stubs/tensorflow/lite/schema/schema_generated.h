// Test stub: tflite::Model and GetModel as TFLM's generated schema declares them.
#ifndef TFLM_STUB_SCHEMA_H
#define TFLM_STUB_SCHEMA_H
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model {
  uint32_t version() const;
};
const Model* GetModel(const void* buf);
}  // namespace tflite
#endif
