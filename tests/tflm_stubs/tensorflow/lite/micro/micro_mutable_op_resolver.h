// Test stub: MicroMutableOpResolver<N> with the Add methods edge-rnn may emit (TFLM's take an
// optional registration argument with a default; callers pass none). Like TFLM's, its
// constructor is user-provided (a file-scope resolver needs a C++ constructor at startup) and
// its operator delete is private (TF_LITE_REMOVE_VIRTUAL_DELETE).
#ifndef TFLM_STUB_MUTABLE_OP_RESOLVER_H
#define TFLM_STUB_MUTABLE_OP_RESOLVER_H
#include "tensorflow/lite/c/common.h"
namespace tflite {
class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() {}
};
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  explicit MicroMutableOpResolver() {}
  TfLiteStatus AddAbs();
  TfLiteStatus AddAdd();
  TfLiteStatus AddArgMax();
  TfLiteStatus AddArgMin();
  TfLiteStatus AddAveragePool2D();
  TfLiteStatus AddBatchMatMul();
  TfLiteStatus AddBroadcastTo();
  TfLiteStatus AddCast();
  TfLiteStatus AddConcatenation();
  TfLiteStatus AddConv2D();
  TfLiteStatus AddDepthwiseConv2D();
  TfLiteStatus AddDequantize();
  TfLiteStatus AddDiv();
  TfLiteStatus AddEqual();
  TfLiteStatus AddExp();
  TfLiteStatus AddExpandDims();
  TfLiteStatus AddFill();
  TfLiteStatus AddFullyConnected();
  TfLiteStatus AddGather();
  TfLiteStatus AddGatherNd();
  TfLiteStatus AddGreater();
  TfLiteStatus AddHardSwish();
  TfLiteStatus AddL2Normalization();
  TfLiteStatus AddLeakyRelu();
  TfLiteStatus AddLess();
  TfLiteStatus AddLog();
  TfLiteStatus AddLogSoftmax();
  TfLiteStatus AddLogistic();
  TfLiteStatus AddMaxPool2D();
  TfLiteStatus AddMaximum();
  TfLiteStatus AddMean();
  TfLiteStatus AddMinimum();
  TfLiteStatus AddMul();
  TfLiteStatus AddNeg();
  TfLiteStatus AddPack();
  TfLiteStatus AddPad();
  TfLiteStatus AddPadV2();
  TfLiteStatus AddQuantize();
  TfLiteStatus AddReduceMax();
  TfLiteStatus AddRelu();
  TfLiteStatus AddRelu6();
  TfLiteStatus AddReshape();
  TfLiteStatus AddReverseV2();
  TfLiteStatus AddRsqrt();
  TfLiteStatus AddSelectV2();
  TfLiteStatus AddShape();
  TfLiteStatus AddSlice();
  TfLiteStatus AddSoftmax();
  TfLiteStatus AddSplit();
  TfLiteStatus AddSplitV();
  TfLiteStatus AddSqrt();
  TfLiteStatus AddSquare();
  TfLiteStatus AddSquaredDifference();
  TfLiteStatus AddSqueeze();
  TfLiteStatus AddStridedSlice();
  TfLiteStatus AddSub();
  TfLiteStatus AddSum();
  TfLiteStatus AddTanh();
  TfLiteStatus AddTranspose();
  TfLiteStatus AddUnidirectionalSequenceLSTM();
  TfLiteStatus AddUnpack();
  TfLiteStatus AddZerosLike();

 private:
  void operator delete(void*) {}
};
}  // namespace tflite
#endif
