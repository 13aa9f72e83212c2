// SPDX-License-Identifier: BSD-2-Clause
// cuDNN for the built-in layers: status checks that name the call, and owning descriptors.
// The handle is the host's (crema_exec.cudnn_handle, bound to the call's stream); a plugin only
// creates descriptors. Math is pinned to plain FP32 FMA (no TF32) so that the GPU agrees with the
// CPU within float32 tolerance, as PyTorch does with allow_tf32 off.
#pragma once
#include <cudnn.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace crema::cudnn {

inline void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(s));
}

inline cudnnHandle_t handle(void* h) {
  if (!h) throw std::runtime_error("cuDNN is not available (no handle): use engine: CAFFE");
  return static_cast<cudnnHandle_t>(h);
}

// One owning wrapper per descriptor kind.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { check(Create(&d_), "cudnnCreate*Descriptor"); }
  ~Descriptor() { Destroy(d_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return d_; }
  operator T() const { return d_; }

 private:
  T d_{};
};

using TensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                              cudnnDestroyTensorDescriptor>;
using FilterDesc = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                              cudnnDestroyFilterDescriptor>;
using ConvDesc = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                            cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor,
                            cudnnDestroyPoolingDescriptor>;
using LrnDesc = Descriptor<cudnnLRNDescriptor_t, cudnnCreateLRNDescriptor, cudnnDestroyLRNDescriptor>;

// NCHW float tensor with explicit strides, so a view into a larger tensor (a group's channels)
// describes itself.
inline void set_4d(cudnnTensorDescriptor_t d, int n, int c, int h, int w, int stride_n,
                   int stride_c, int stride_h, int stride_w) {
  check(cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, n, c, h, w, stride_n, stride_c, stride_h,
                                     stride_w),
        "cudnnSetTensor4dDescriptorEx");
}
inline void set_4d(cudnnTensorDescriptor_t d, int n, int c, int h, int w) {
  set_4d(d, n, c, h, w, c * h * w, h * w, w, 1);
}

// alpha/beta scalars cuDNN takes by pointer.
struct Scalars {
  static const float* one() {
    static const float v = 1.f;
    return &v;
  }
  static const float* zero() {
    static const float v = 0.f;
    return &v;
  }
};

}  // namespace crema::cudnn
