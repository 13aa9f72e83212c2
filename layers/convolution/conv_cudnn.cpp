// SPDX-License-Identifier: BSD-2-Clause
// Convolution through cuDNN (see conv_cudnn.hpp):
//   forward:  y = conv(x, W) (cudnnConvolutionForward, beta 0), then y += b (cudnnAddTensor)
//   backward: dW += (cudnnConvolutionBackwardFilter, beta 1), db += (cudnnConvolutionBackwardBias,
//             beta 1), dx = (cudnnConvolutionBackwardData, beta 0)
// Algorithms: the first of cuDNN's ranking that reports success with FMA math and fits
// kWorkspaceCap (else the always-available implicit GEMM / ALGO_0). The
// ranking is measured (cudnnFind*: every algorithm timed once per shape, in reshape, like
// PyTorch's cudnn.benchmark) unless CREMA_CUDNN_BENCHMARK=0 asks for the heuristics (*_v7). The
// chosen dW and dx algorithms may accumulate with atomics and so not be bitwise deterministic
// from run to run; the differences are float rounding only.
// fp16 / bf16: the same three calls on 2-byte copies (reduced_cuda.hpp) with CUDNN_TENSOR_OP_MATH
// and an fp32 compute type (cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configurations: 2-byte tensors,
// fp32 sums); cuDNN writes 2-byte y, dE/dW and dE/dx (beta 0), which are widened into the fp32
// tensors, dE/dW added. The bias and its gradient stay fp32. Any algorithm of the ranking may be
// taken, tensor cores or not. Blobs stored in the math's type (fp16 / bf16 storage) are cuDNN's
// operands and results themselves; the bias is then added by a kernel of ours (cudnnAddTensor
// wants y in the bias's type), rounding y a second time, and its gradient summed likewise.
#include "conv_cudnn.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <utility>

#include "crema/layer.hpp"
#include "crema/layers/im2col_cuda.hpp"
#include "crema/layers/reduced_cuda.hpp"

namespace crema::layers {
namespace {

bool benchmark_mode() {
  const char* v = std::getenv("CREMA_CUDNN_BENCHMARK");
  return !(v && std::string(v) == "0");
}

bool tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The first usable entry of a ranking, in fp32 passing over entries that want tensor cores
// (TF32); `bytes(algo, &size)` is the workspace query for one algorithm.
template <class Perf, class Algo, class Bytes>
bool pick(const Perf* perf, int n, bool fp32, const Bytes& bytes, Algo* algo, size_t* size) {
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || (fp32 && tensor_op(perf[i].mathType))) continue;
    size_t s = 0;
    if (bytes(perf[i].algo, &s) != CUDNN_STATUS_SUCCESS || s > ConvCudnn::kWorkspaceCap) continue;
    *algo = perf[i].algo;
    *size = s;
    return true;
  }
  return false;
}

template <class Perf, class Algo, class Bytes>
void choose(const Perf* perf, int n, bool fp32, Algo fallback, const Bytes& bytes, const char* what,
            Algo* algo, size_t* size) {
  // In fp32 only FMA entries: a tensor-core (TF32) entry would break the FP32 promise, and cuDNN
  // may refuse it under CUDNN_FMA_MATH at run time. In fp16/bf16 tensor cores are the point.
  if (pick(perf, n, fp32, bytes, algo, size)) return;
  *algo = fallback;
  cudnn::check(bytes(fallback, size), what);
}

}  // namespace

bool ConvCudnn::fits(const ConvGeometry& g, int num_output, int64_t num) {
  return num * g.channels * g.in_plane() <= INT_MAX && num * num_output * g.out_plane() <= INT_MAX;
}

void ConvCudnn::describe(const ConvGeometry& g, int num_output, int64_t num) {
  const int n = static_cast<int>(num);
  const cudnnDataType_t t = math_ == CREMA_BFLOAT16  ? CUDNN_DATA_BFLOAT16
                            : math_ == CREMA_FLOAT16 ? CUDNN_DATA_HALF
                                                     : CUDNN_DATA_FLOAT;
  cudnn::check(
      cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, t, n, g.channels, g.height, g.width),
      "cudnnSetTensor4dDescriptor (x)");
  cudnn::check(
      cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, t, n, num_output, g.out_h(), g.out_w()),
      "cudnnSetTensor4dDescriptor (y)");
  cudnn::set_4d(y32_, n, num_output, g.out_h(), g.out_w());
  cudnn::set_4d(bias_, 1, num_output, 1, 1);
  cudnn::check(cudnnSetFilter4dDescriptor(w_, t, CUDNN_TENSOR_NCHW, num_output,
                                          g.channels / g.groups, g.kernel_h, g.kernel_w),
               "cudnnSetFilter4dDescriptor");
  num_ = num;
  channels_out_ = num_output;
  out_plane_ = g.out_plane();
  x_count_ = num * g.channels * g.in_plane();
  y_count_ = num * num_output * g.out_plane();
  w_count_ = int64_t{num_output} * (g.channels / g.groups) * g.kernel_h * g.kernel_w;
  cudnn::check(cudnnSetConvolution2dDescriptor(conv_, g.pad_h, g.pad_w, g.stride_h, g.stride_w,
                                               g.dilation_h, g.dilation_w, CUDNN_CROSS_CORRELATION,
                                               CUDNN_DATA_FLOAT),
               "cudnnSetConvolution2dDescriptor");
  cudnn::check(cudnnSetConvolutionGroupCount(conv_, g.groups), "cudnnSetConvolutionGroupCount");
  // fp32 sums in every math (the compute type above); tensor cores only for 2-byte tensors.
  cudnn::check(cudnnSetConvolutionMathType(conv_, math_ == CREMA_FLOAT32 ? CUDNN_FMA_MATH
                                                                         : CUDNN_TENSOR_OP_MATH),
               "cudnnSetConvolutionMathType");
  int on = 0, oc = 0, oh = 0, ow = 0;
  cudnn::check(cudnnGetConvolution2dForwardOutputDim(conv_, x_, w_, &on, &oc, &oh, &ow),
               "cudnnGetConvolution2dForwardOutputDim");
  CREMA_CHECK(on == n && oc == num_output && oh == g.out_h() && ow == g.out_w(),
              "cuDNN computes a " << on << "x" << oc << "x" << oh << "x" << ow
                                  << " output, Caffe's formula " << n << "x" << num_output << "x"
                                  << g.out_h() << "x" << g.out_w());
}

void ConvCudnn::choose_algorithms(cudnnHandle_t h) {
  const bool measure = benchmark_mode(), fp32 = math_ == CREMA_FLOAT32;
  int n = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  if (measure)
    cudnn::check(cudnnFindConvolutionForwardAlgorithm(h, x_, w_, conv_, y_,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd),
                 "cudnnFindConvolutionForwardAlgorithm");
  else
    cudnn::check(cudnnGetConvolutionForwardAlgorithm_v7(h, x_, w_, conv_, y_,
                                                        CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd),
                 "cudnnGetConvolutionForwardAlgorithm_v7");
  choose(
      fwd, n, fp32, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
      [&](cudnnConvolutionFwdAlgo_t a, size_t* s) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, x_, w_, conv_, y_, a, s);
      },
      "cudnnGetConvolutionForwardWorkspaceSize", &fwd_, &fwd_bytes_);

  cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  if (measure)
    cudnn::check(cudnnFindConvolutionBackwardDataAlgorithm(
                     h, w_, y_, conv_, x_, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, data),
                 "cudnnFindConvolutionBackwardDataAlgorithm");
  else
    cudnn::check(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                     h, w_, y_, conv_, x_, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, data),
                 "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  choose(
      data, n, fp32, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
      [&](cudnnConvolutionBwdDataAlgo_t a, size_t* s) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_, y_, conv_, x_, a, s);
      },
      "cudnnGetConvolutionBackwardDataWorkspaceSize", &bwd_data_, &bwd_data_bytes_);

  cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  if (measure)
    cudnn::check(cudnnFindConvolutionBackwardFilterAlgorithm(
                     h, x_, y_, conv_, w_, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, filter),
                 "cudnnFindConvolutionBackwardFilterAlgorithm");
  else
    cudnn::check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                     h, x_, y_, conv_, w_, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, filter),
                 "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  choose(
      filter, n, fp32, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
      [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* s) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x_, y_, conv_, w_, a, s);
      },
      "cudnnGetConvolutionBackwardFilterWorkspaceSize", &bwd_filter_, &bwd_filter_bytes_);
}

size_t ConvCudnn::plan(cudnnHandle_t h, const ConvGeometry& g, int num_output, int64_t num,
                       crema_dtype math, crema_dtype x_type, crema_dtype y_type) {
  std::vector<int64_t> key = {num,        num_output, g.channels,   g.height,     g.width,
                              g.groups,   g.kernel_h, g.kernel_w,   g.pad_h,      g.pad_w,
                              g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, math};
  if (key != key_) {
    key_.clear();  // a failure below leaves nothing half-planned behind
    math_ = math;
    describe(g, num_output, num);
    choose_algorithms(h);
    key_ = std::move(key);
  }
  const size_t bytes = std::max({fwd_bytes_, bwd_data_bytes_, bwd_filter_bytes_});
  if (math_ == CREMA_FLOAT32) return bytes;
  using gpu::scratch_bytes;
  cudnn_bytes_ = (bytes + 255) / 256 * 256;
  // x's copy also holds it for dE/dW; out holds dE/dW, then dE/dx where x needs a copy.
  const bool x_copy = x_type != math_, y_copy = y_type != math_;
  x_bytes_ = x_copy ? scratch_bytes(x_count_, math_) : 0;
  w_bytes_ = scratch_bytes(w_count_, math_);
  y_bytes_ = y_copy ? scratch_bytes(y_count_, math_) : 0;
  return cudnn_bytes_ + x_bytes_ + w_bytes_ + y_bytes_ +
         scratch_bytes(std::max(x_copy ? x_count_ : 0, w_count_), math_);
}

ConvCudnn::Scratch ConvCudnn::scratch(void* ws) const {
  char* p = static_cast<char*>(ws) + cudnn_bytes_;
  Scratch s{};
  s.x = x_bytes_ ? p : nullptr;
  p += x_bytes_;
  s.w = p;
  p += w_bytes_;
  s.y = y_bytes_ ? p : nullptr;
  p += y_bytes_;
  s.out = p;
  return s;
}

namespace {
void* stream_of(cudnnHandle_t h) {
  cudaStream_t s = nullptr;
  cudnn::check(cudnnGetStream(h, &s), "cudnnGetStream");
  return s;
}
}  // namespace

const void* ConvCudnn::as_math(void* stream, cuda::Values v, void* copy, int64_t n,
                               bool fill) const {
  if (v.type == math_) return v.ptr;
  CREMA_CHECK(copy, "Convolution: a blob stored in type "
                        << v.type << " has no copy planned in reshape (planned for the math type)");
  if (fill) gpu::convert(stream, v, cuda::Values{copy, math_}, n);
  return copy;
}

void ConvCudnn::forward_reduced(cudnnHandle_t h, cuda::Values x, const float* w, const float* bias,
                                cuda::Values y, void* ws) const {
  using cudnn::Scalars;
  void* stream = stream_of(h);
  const Scratch s = scratch(ws);
  const void* xm = as_math(stream, x, s.x, x_count_, true);
  gpu::round_to(stream, math_, w, s.w, w_count_);
  void* ym = const_cast<void*>(as_math(stream, y, s.y, y_count_, false));
  cudnn::check(cudnnConvolutionForward(h, Scalars::one(), x_, xm, w_, s.w, conv_, fwd_, ws,
                                       fwd_bytes_, Scalars::zero(), y_, ym),
               "cudnnConvolutionForward (fp16/bf16)");
  if (ym != y.ptr) gpu::convert(stream, cuda::Values{ym, math_}, y, y_count_);
  if (!bias) return;
  if (y.type == CREMA_FLOAT32)
    cudnn::check(cudnnAddTensor(h, Scalars::one(), bias_, bias, Scalars::one(), y32_, y.ptr),
                 "cudnnAddTensor (bias)");
  else
    gpu::add_channel_bias(stream, y, bias, num_, channels_out_, out_plane_);
}

void ConvCudnn::backward_reduced(cudnnHandle_t h, cuda::Values x, const float* w, cuda::Values dy,
                                 float* dw, float* db, cuda::Values dx, void* ws) const {
  using cudnn::Scalars;
  void* stream = stream_of(h);
  const Scratch s = scratch(ws);
  if (db && dy.type == CREMA_FLOAT32)
    cudnn::check(
        cudnnConvolutionBackwardBias(h, Scalars::one(), y32_, dy.ptr, Scalars::one(), bias_, db),
        "cudnnConvolutionBackwardBias");
  else if (db)
    gpu::add_channel_sums(stream, dy, num_, channels_out_, out_plane_, db);
  if (!dw && !dx) return;
  const void* dym = as_math(stream, dy, s.y, y_count_, true);
  if (dw) {
    const void* xm = as_math(stream, x, s.x, x_count_, true);
    cudnn::check(cudnnConvolutionBackwardFilter(h, Scalars::one(), x_, xm, y_, dym, conv_,
                                                bwd_filter_, ws, bwd_filter_bytes_, Scalars::zero(),
                                                w_, s.out),
                 "cudnnConvolutionBackwardFilter (fp16/bf16)");
    gpu::widen_from(stream, math_, s.out, dw, w_count_, true);
  }
  if (dx) {
    gpu::round_to(stream, math_, w, s.w, w_count_);
    void* dxm = const_cast<void*>(as_math(stream, dx, s.out, x_count_, false));
    cudnn::check(cudnnConvolutionBackwardData(h, Scalars::one(), w_, s.w, y_, dym, conv_, bwd_data_,
                                              ws, bwd_data_bytes_, Scalars::zero(), x_, dxm),
                 "cudnnConvolutionBackwardData (fp16/bf16)");
    if (dxm != dx.ptr) gpu::convert(stream, cuda::Values{dxm, math_}, dx, x_count_);
  }
}

namespace {
void require_fp32(cuda::Values v, const char* what) {
  CREMA_CHECK(v.type == CREMA_FLOAT32, "cuDNN convolution in fp32 got a 2-byte " << what);
}
}  // namespace

void ConvCudnn::forward(cudnnHandle_t h, cuda::Values x, const float* w, const float* bias,
                        cuda::Values y, void* ws) const {
  if (math_ != CREMA_FLOAT32) return forward_reduced(h, x, w, bias, y, ws);
  require_fp32(x, "x");
  require_fp32(y, "y");
  using cudnn::Scalars;
  cudnn::check(cudnnConvolutionForward(h, Scalars::one(), x_, x.ptr, w_, w, conv_, fwd_, ws,
                                       fwd_bytes_, Scalars::zero(), y_, y.ptr),
               "cudnnConvolutionForward");
  if (bias)
    cudnn::check(cudnnAddTensor(h, Scalars::one(), bias_, bias, Scalars::one(), y_, y.ptr),
                 "cudnnAddTensor (bias)");
}

void ConvCudnn::backward(cudnnHandle_t h, cuda::Values x, const float* w, cuda::Values dy,
                         float* dw, float* db, cuda::Values dx, void* ws) const {
  if (math_ != CREMA_FLOAT32) return backward_reduced(h, x, w, dy, dw, db, dx, ws);
  require_fp32(x, "x");
  require_fp32(dy, "dE/dy");
  if (dx) require_fp32(dx, "dE/dx");
  using cudnn::Scalars;
  if (db)
    cudnn::check(
        cudnnConvolutionBackwardBias(h, Scalars::one(), y_, dy.ptr, Scalars::one(), bias_, db),
        "cudnnConvolutionBackwardBias");
  if (dw)
    cudnn::check(cudnnConvolutionBackwardFilter(h, Scalars::one(), x_, x.ptr, y_, dy.ptr, conv_,
                                                bwd_filter_, ws, bwd_filter_bytes_, Scalars::one(),
                                                w_, dw),
                 "cudnnConvolutionBackwardFilter");
  if (dx)
    cudnn::check(cudnnConvolutionBackwardData(h, Scalars::one(), w_, w, y_, dy.ptr, conv_,
                                              bwd_data_, ws, bwd_data_bytes_, Scalars::zero(), x_,
                                              dx.ptr),
                 "cudnnConvolutionBackwardData");
}

}  // namespace crema::layers
