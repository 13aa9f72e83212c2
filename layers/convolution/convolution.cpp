// SPDX-License-Identifier: BSD-2-Clause
// Convolution: Caffe's ConvolutionLayer (base_conv_layer.cpp, conv_layer.cpp), 2-D, N,C,H,W.
//   y[n][o][oh][ow] = b[o] + sum_{c', i, j} W[o][c'][i][j] x[n][g*C/G + c'][ih][iw],
//   ih = oh*SH - PH + i*DH, iw = ow*SW - PW + j*DW, g = o / (M/G) the group of output o
// (x is 0 in the padding), OH = floor((H + 2PH - (DH(KH-1)+1)) / SH) + 1, likewise OW.
// Params: W (num_output, C/G, KH, KW), b (num_output) when bias_term.
// The products run as a few large pixel-major GEMMs per chunk of images (conv_gemm.cpp), with
// dE/db = sum_{n,oh,ow} dE/dy here; parameters in conv_spec.hpp.
// On the GPU, convolution_param.engine picks the method: DEFAULT (cuDNN when the host has it and
// the batch fits its int32 descriptors) and CUDNN go through cuDNN (conv_cudnn.hpp), CAFFE (and
// the cases cuDNN cannot take) through im2col + cuBLAS GEMMs (conv_gpu_gemm.hpp). The CPU path
// ignores the engine; convolution_param.cpu_method and winograd_tile choose its method. fp16 /
// bf16 blobs on the GPU (cuda_storage) are cuDNN's own operands in that math type, and are
// widened around the fp32 methods (conv_gpu_staging.hpp).
// bf16 blobs (cpu_storage) and N,H,W,C bf16 blobs (cpu_layouts, each tensor on its own): in bf16
// math oneDNN takes every kernel size on N,H,W,C tensors in place, 1x1 gradients are whole-batch
// GEMMs (conv_pointwise_channels_last.hpp) and wide KxK dE/dW one GEMM over im2col rows
// (conv_weight_grad_channels_last.hpp); the fp32 methods convert and transpose around themselves.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "conv_gemm.hpp"
#include "conv_pointwise_channels_last.hpp"
#include "conv_spec.hpp"
#include "conv_weight_grad_channels_last.hpp"
#include "conv_winograd_bf16.hpp"
#include "crema/bf16.hpp"
#include "crema/layer.hpp"
#include "crema/layers/layout_bf16.hpp"
#include "crema/layers/onednn_conv.hpp"
#if CREMA_WITH_CUDA
#include <memory>

#include "conv_cudnn.hpp"
#include "conv_gpu_gemm.hpp"
#include "conv_gpu_staging.hpp"
#endif

using crema::layers::ConvGeometry;

class Convolution final : public crema::Layer<Convolution> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Convolution", "convolution_param"};
    // bf16 on the CPU through oneDNN (conv_bf16 below), where the build has it.
    if (crema::host_has_bf16_gemm()) i.cpu_math = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    // bf16 input and output blobs: read and written in place by the oneDNN and 1x1 bf16 paths,
    // converted around the others (forward_cpu).
    i.cpu_storage = CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    // bf16 blobs stored N,H,W,C, each tensor on its own: the oneDNN primitives read and write
    // them in place (no transposes); the other methods transpose around themselves.
    if (crema::layers::layout_bf16_available())
      i.cpu_layouts = CREMA_LAYOUT_CHANNELS_LAST | CREMA_LAYOUT_MIXED;
#if CREMA_WITH_CUDA
    // fp16 / bf16 on the tensor cores, through cuDNN or the im2col GEMMs (conv_cudnn.hpp,
    // conv_gpu_gemm.hpp); the host asks only where the GPU has them.
    i.cuda_math = CREMA_DTYPE_BIT(CREMA_FLOAT16) | CREMA_DTYPE_BIT(CREMA_BFLOAT16);
    // fp16 / bf16 blobs: cuDNN's operands and results as they are where they match the math
    // type, converted otherwise (conv_gpu_staging.hpp).
    i.cuda_storage = CREMA_DTYPE_BIT(CREMA_FLOAT16) | CREMA_DTYPE_BIT(CREMA_BFLOAT16);
#endif
    return i;
  }

  explicit Convolution(const crema::Params& p)
      : spec_(crema::layers::read_conv_spec(p)),
        engine_(p.get<std::string>("convolution_param.engine")) {
    // The CPU method a net asks for (cpu_method, winograd_tile: crema additions to
    // convolution_param); AUTO leaves every choice to the measured defaults (conv_gemm.hpp).
    const std::string method = p.get<std::string>("convolution_param.cpu_method");
    if (method == "GEMM") tuning_.winograd = tuning_.direct = 0;
    if (method == "WINOGRAD") tuning_.winograd = 1, tuning_.direct = 0;
    if (method == "DIRECT") tuning_.winograd = 0, tuning_.direct = 1;
    tuning_.winograd_tile = p.get<int>("convolution_param.winograd_tile");
    CREMA_CHECK(
        tuning_.winograd_tile == 0 || tuning_.winograd_tile == 2 || tuning_.winograd_tile == 4,
        "winograd_tile must be 2 or 4 (0: chosen per shape), got " << tuning_.winograd_tile);
    // Debugging overrides, which win over the prototxt (docs/CONFIGURATION.md): the buffer
    // budget of one chunk of images in KB, the pixel rows a chunk's GEMM gets at least
    // (CREMA_CONV_MIN_GEMM_ROWS), 1x1 by per-image GEMMs (CREMA_CONV_POINTWISE: 0 never,
    // 1 always, default measured), the smallest output plane that uses the row-shift method,
    // and Winograd (see conv_gemm.hpp).
    // CREMA_CONV_CHUNK_KB sets the Winograd chunk budget too, CREMA_CONV_WINOGRAD_CHUNK_KB
    // that one alone; CREMA_CONV_WINOGRAD: 0 never, 1 wherever it applies (default: measured),
    // CREMA_CONV_WINOGRAD_DW likewise for dE/dW (where Winograd runs at all),
    // CREMA_CONV_WINOGRAD_TILE 2 or 4 its F(2x2, 3x3) or F(4x4, 3x3) (default: measured),
    // CREMA_CONV_DIRECT the few-channel direct forward and dE/dW: 0 never, 1 wherever it applies.
    if (const char* env = std::getenv("CREMA_CONV_CHUNK_KB"))
      tuning_.chunk_bytes = tuning_.winograd_chunk_bytes = std::atol(env) * 1024;
    if (const char* env = std::getenv("CREMA_CONV_WINOGRAD_CHUNK_KB"))
      tuning_.winograd_chunk_bytes = std::atol(env) * 1024;
    if (const char* env = std::getenv("CREMA_CONV_POINTWISE")) tuning_.pointwise = std::atoi(env);
    if (const char* env = std::getenv("CREMA_CONV_MIN_GEMM_ROWS"))
      tuning_.min_gemm_rows = std::atol(env);
    if (const char* env = std::getenv("CREMA_CONV_ROWSHIFT_MIN"))
      tuning_.rowshift_min_plane = std::atol(env);
    if (const char* env = std::getenv("CREMA_CONV_WINOGRAD")) tuning_.winograd = std::atoi(env);
    if (const char* env = std::getenv("CREMA_CONV_WINOGRAD_DW"))
      tuning_.winograd_dw = std::atoi(env);
    if (const char* env = std::getenv("CREMA_CONV_WINOGRAD_TILE"))
      tuning_.winograd_tile = std::atoi(env);
    if (const char* env = std::getenv("CREMA_CONV_DIRECT")) tuning_.direct = std::atoi(env);
#if CREMA_WITH_CUDA
    // The GPU im2col method's column buffer budget in KB (engine: CAFFE).
    if (const char* env = std::getenv("CREMA_CONV_GPU_COLUMN_KB"))
      gpu_gemm_.column_budget = static_cast<size_t>(std::atol(env)) * 1024;
#endif
  }

  void setup(crema::Context& c) {
    crema::layers::check_conv_input(c.bottom(0), spec_.axis, &spec_.geometry);
    const ConvGeometry& g = spec_.geometry;
    channels_ = g.channels;
    CREMA_CHECK(channels_ % g.groups == 0,
                "input channels " << channels_ << " are not a multiple of group " << g.groups);
    c.add_param({spec_.num_output, channels_ / g.groups, g.kernel_h, g.kernel_w},
                "convolution_param.weight_filler");
    if (spec_.bias_term) c.add_param({spec_.num_output}, "convolution_param.bias_filler");
  }

  void reshape(crema::Context& c) {
    ConvGeometry& g = spec_.geometry;
    crema::layers::check_conv_input(c.bottom(0), spec_.axis, &g);
    CREMA_CHECK(g.channels == channels_,
                "bottom has " << g.channels << " channels but the weights were set up for "
                              << channels_);
    const int64_t num = c.bottom(0).dim(0);
    c.top(0).set_shape({num, spec_.num_output, g.out_h(), g.out_w()});
#if CREMA_WITH_CUDA
    gpu_ready_ = false;
    if (c.on_gpu()) return reshape_gpu(c, num);
#endif
    // Each thread takes whole chunks with buffers of its own: small GEMMs do not split well.
    // The plan follows the forward's math (bf16: GEMMs only, no Winograd).
    gemm_.set_math(c.math());
    x_bf16_ = c.bottom(0).is_bf16();
    y_bf16_ = c.top(0).is_bf16();
    channels_last_ = c.bottom(0).channels_last() || c.top(0).channels_last();
    gemm_.set_storage(x_bf16_, y_bf16_);
    const int64_t floats = gemm_.plan(g, spec_.num_output, num, tuning_, c.num_threads());
    size_t bytes = static_cast<size_t>(std::max<int64_t>(floats, 0)) * sizeof(float);
    // N,H,W,C tensors go to oneDNN whatever the kernel: its primitives take them as they are.
    onednn_ = c.math() == CREMA_BFLOAT16 &&
              (onednn_for_bf16(g) || (channels_last_ && crema::layers::OnednnConv::available()));
    // Between N,H,W,C blobs: 1x1 gradients as two whole-batch GEMMs (and on CPUs without AMX
    // the forward pass as one, where one GEMM beats oneDNN's convolution with its reorders;
    // CREMA_CONV_1X1_GEMM=1 or 0 overrides that), 3x3 stride-1 layers by Winograd with bf16
    // products on those CPUs (conv_winograd_bf16.hpp), and the dE/dW of other wider KxK layers
    // as one GEMM.
    const bool between_last = onednn_ && c.bottom(0).channels_last() && c.top(0).channels_last();
    pointwise_last_ = between_last && crema::layers::PointwiseChannelsLast::applies(g);
    pointwise_forward_ = pointwise_last_ && !spec_.bias_term && pointwise_gemm_forward();
    winograd_last_ = between_last && crema::layers::WinogradBf16::applies(g, spec_.num_output, num);
    weight_grad_last_ = between_last && !pointwise_last_ && !winograd_last_ &&
                        crema::layers::WeightGradChannelsLast::applies(g);
    // oneDNN's primitives (and the bf16 input its forward keeps for dE/dW) only where a pass
    // still runs on them.
    if (onednn_ && !winograd_last_ && !pointwise_forward_)
      bytes = std::max(bytes, onednn_conv_.plan(g, spec_.num_output, num, spec_.bias_term, x_bf16_,
                                                y_bf16_, c.bottom(0).channels_last(),
                                                c.top(0).channels_last()));
    if (pointwise_last_)
      bytes = std::max(bytes, pointwise_last_conv_.plan(g, spec_.num_output, num));
    if (weight_grad_last_)
      bytes = std::max(bytes, weight_grad_last_conv_.plan(g, spec_.num_output, num));
    if (winograd_last_)
      bytes = std::max(bytes, winograd_conv_.plan(g, spec_.num_output, num, c.num_threads()));
    if (bytes > 0) c.request_workspace(bytes);
  }

  void forward_cpu(crema::Context& c) {
    const float* bias = spec_.bias_term ? c.param(1).data() : nullptr;
    void* y = c.top(0).raw()->data;
    if (pointwise_forward_ && c.math() == CREMA_BFLOAT16)
      return pointwise_last_conv_.forward(c.bottom(0).data_bf16(), c.param(0).data(),
                                          c.top(0).data_bf16(), c.workspace<void>());
    if (winograd_last_ && c.math() == CREMA_BFLOAT16)
      return winograd_conv_.forward(c.bottom(0).data_bf16(), c.param(0).data(), bias,
                                    c.top(0).data_bf16(), c.workspace<void>());
    if (onednn_ && c.math() == CREMA_BFLOAT16)
      return onednn_conv_.forward(c.bottom(0).raw()->data, c.param(0).data(), bias, y,
                                  c.workspace<void>());
    gemm_.set_math(c.math());
    if (gemm_.takes_storage() && !channels_last_)
      return gemm_.forward_stored(c.bottom(0).raw()->data, c.param(0).data(), bias, y,
                                  c.workspace<float>());
    // The other methods compute on fp32 N,C,H,W tensors: a bf16 blob is widened in and rounded
    // out (and transposed where it is N,H,W,C).
    float* y32 = y_bf16_ ? staged(&y32_, c.top(0).count()) : c.top(0).data();
    gemm_.forward(as_fp32(c.bottom(0), false, &x32_), c.param(0).data(), bias, y32,
                  c.workspace<float>());
    if (y_bf16_) round_into(y32, c.top(0), false);
  }

  void backward_cpu(crema::Context& c) {
    const int64_t num = c.bottom(0).dim(0), out = spec_.geometry.out_plane(), m = spec_.num_output;
    const bool need_w = c.params_need_grad(), need_x = c.propagate_down(0);
    // dE/db[o] = sum_{n,oh,ow} dE/dy[n][o][oh][ow]
    if (need_w && spec_.bias_term) {
      if (c.top(0).channels_last())
        add_bias_grad_channels_last(c.top(0).diff_bf16(), num * out, m, c.param(1).diff());
      else if (y_bf16_)
        add_bias_grad(c.top(0).diff_bf16(), num, m, out, c.param(1).diff());
      else
        add_bias_grad(c.top(0).diff(), num, m, out, c.param(1).diff());
    }
    if (!need_w && !need_x) return;
    float* dw = need_w ? c.param(0).diff() : nullptr;
    // dE/dW += ..., dE/dx = ... (the GEMMs and their derivation: conv_gemm.cpp)
    const bool onednn = onednn_ && c.math() == CREMA_BFLOAT16;
    gemm_.set_math(c.math());
    if (onednn || (gemm_.takes_storage() && !channels_last_)) {  // tensors as they are stored
      const void* x = c.bottom(0).raw()->data;
      const void* dy = c.top(0).raw()->diff;
      void* dx = need_x ? c.bottom(0).raw()->diff : nullptr;
      if (onednn && pointwise_last_)
        return pointwise_last_conv_.backward(static_cast<const uint16_t*>(x), c.param(0).data(),
                                             static_cast<const uint16_t*>(dy), dw,
                                             static_cast<uint16_t*>(dx), c.workspace<void>());
      if (onednn && winograd_last_) {  // dE/dx and dE/dW by Winograd
        if (dx)
          winograd_conv_.backward_data(c.param(0).data(), static_cast<const uint16_t*>(dy),
                                       static_cast<uint16_t*>(dx), c.workspace<void>());
        if (dw)
          winograd_conv_.backward_weights(static_cast<const uint16_t*>(x),
                                          static_cast<const uint16_t*>(dy), dw,
                                          c.workspace<void>());
        return;
      }
      if (onednn && weight_grad_last_) {  // dE/dx by oneDNN, then dE/dW in the same workspace
        onednn_conv_.backward(x, c.param(0).data(), dy, nullptr, dx, c.workspace<void>());
        if (dw)
          weight_grad_last_conv_.accumulate(static_cast<const uint16_t*>(x),
                                            static_cast<const uint16_t*>(dy), dw,
                                            c.workspace<void>());
        return;
      }
      if (onednn)
        return onednn_conv_.backward(x, c.param(0).data(), dy, dw, dx, c.workspace<void>());
      return gemm_.backward_stored(x, c.param(0).data(), dy, dw, dx, c.workspace<float>());
    }
    const int64_t in_count = c.bottom(0).count();
    float* dx32 = !need_x ? nullptr : x_bf16_ ? staged(&dx32_, in_count) : c.bottom(0).diff();
    gemm_.backward(as_fp32(c.bottom(0), false, &x32_), c.param(0).data(),
                   as_fp32(c.top(0), true, &y32_), dw, dx32, c.workspace<float>());
    if (need_x && x_bf16_) round_into(dx32, c.bottom(0), true);
  }

#if CREMA_WITH_CUDA
  // Blobs may be stored in fp16 or bf16 (cuda_storage): cuDNN computing in 2-byte math takes them
  // as they are; the fp32 methods (cuDNN in fp32, the native GEMMs) through fp32 copies.
  void forward_cuda(crema::Context& c) {
    CREMA_CHECK(gpu_ready_, "Convolution: forward on the GPU without a GPU reshape");
    const float* bias = spec_.bias_term ? c.param(1).data() : nullptr;
    const float* w = c.param(0).data();
    using crema::cuda::data_of, crema::cuda::values_of;
    if (cudnn_on_ && cudnn_->math() != CREMA_FLOAT32)
      return cudnn_->forward(crema::cudnn::handle(c.cudnn_handle()), data_of(c.bottom(0).raw()), w,
                             bias, data_of(c.top(0).raw()), c.workspace<void>());
    using Staging = crema::layers::GpuFp32Staging;
    const float* x = staging_.in(c, c.bottom(0), false, true, Staging::kX);
    float* y = staging_.in(c, c.top(0), false, false, Staging::kY);
    if (cudnn_on_)
      cudnn_->forward(crema::cudnn::handle(c.cudnn_handle()), values_of(x), w, bias, values_of(y),
                      c.workspace<void>());
    else
      gpu_gemm_.forward(c, x, w, bias, y);
    staging_.out(c, c.top(0), false, Staging::kY);
  }

  void backward_cuda(crema::Context& c) {
    CREMA_CHECK(gpu_ready_, "Convolution: backward on the GPU without a GPU reshape");
    // The GPU plan (descriptors, algorithms, scratch) is made in reshape for the forward's type.
    const crema_dtype planned = cudnn_on_ ? cudnn_->math() : gpu_gemm_.math();
    CREMA_CHECK(c.math() == planned, "Convolution on the GPU computes forward and backward in one "
                                     "type: backward_math asks for "
                                         << type_name(c.math()) << " but forward_math for "
                                         << type_name(planned) << " (set both alike)");
    const bool need_w = c.params_need_grad(), need_x = c.propagate_down(0);
    if (!need_w && !need_x) return;
    float* dw = need_w ? c.param(0).diff() : nullptr;
    float* db = need_w && spec_.bias_term ? c.param(1).diff() : nullptr;
    const float* w = c.param(0).data();
    using crema::cuda::data_of, crema::cuda::diff_of, crema::cuda::values_of;
    if (cudnn_on_ && planned != CREMA_FLOAT32)
      return cudnn_->backward(crema::cudnn::handle(c.cudnn_handle()), data_of(c.bottom(0).raw()), w,
                              diff_of(c.top(0).raw()), dw, db,
                              need_x ? diff_of(c.bottom(0).raw()) : crema::cuda::Values{},
                              c.workspace<void>());
    // x only for dE/dW: both methods read it for nothing else.
    using Staging = crema::layers::GpuFp32Staging;
    const float* x = need_w ? staging_.in(c, c.bottom(0), false, true, Staging::kX) : nullptr;
    const float* dy = staging_.in(c, c.top(0), true, true, Staging::kY);
    float* dx = need_x ? staging_.in(c, c.bottom(0), true, false, Staging::kDx) : nullptr;
    if (cudnn_on_)
      cudnn_->backward(crema::cudnn::handle(c.cudnn_handle()), values_of(x), w, values_of(dy), dw,
                       db, dx ? values_of(dx) : crema::cuda::Values{}, c.workspace<void>());
    else
      gpu_gemm_.backward(c, x, w, dy, dw, db, dx);
    if (need_x) staging_.out(c, c.bottom(0), true, Staging::kDx);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {
        {"type: 'Convolution' convolution_param { num_output: 4 kernel_size: 3 pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,3,5,6"},
        {"type: 'Convolution' convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 stride: 2 "
         "dilation: 2 group: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.3 } }",
         "1,3,7,6"},
        {"type: 'Convolution' convolution_param { num_output: 5 kernel_size: 1 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "3,4,3,5"},
        // 256 output pixels: the row-shift method (conv_gemm.hpp).
        {"type: 'Convolution' convolution_param { num_output: 3 kernel_size: 3 pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,2,16,16"},
        // group == channels == num_output: the depthwise method.
        {"type: 'Convolution' convolution_param { num_output: 4 group: 4 kernel_size: 3 pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,4,5,6"},
        // The native GPU method (im2col + GEMM) where the GPU has cuDNN too.
        {"type: 'Convolution' convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 stride: 2 "
         "dilation: 2 group: 3 pad: 1 engine: CAFFE weight_filler { type: 'gaussian' std: 0.3 } "
         "bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,3,7,6"},
        {"type: 'Convolution' convolution_param { num_output: 4 kernel_size: 1 group: 2 "
         "engine: CAFFE weight_filler { type: 'gaussian' std: 0.3 } }",
         "3,4,3,5"},
        // A strided 1x1 projection, and a 1x1 over more pixels than one block of bf16 results
        // (conv_gemm_pointwise_bf16.cpp).
        {"type: 'Convolution' convolution_param { num_output: 6 kernel_size: 1 stride: 2 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,4,9,8"},
        {"type: 'Convolution' convolution_param { num_output: 3 kernel_size: 1 "
         "weight_filler { type: 'gaussian' std: 0.3 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "1,2,36,36"},
        // The CPU method chosen in the prototxt: Winograd F(4x4, 3x3).
        {"type: 'Convolution' convolution_param { num_output: 5 kernel_size: 3 pad: 1 "
         "cpu_method: WINOGRAD winograd_tile: 4 weight_filler { type: 'gaussian' std: 0.3 } "
         "bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,3,6,7"},
        // Channels in 16s: between N,H,W,C bf16 blobs the bf16 Winograd (3x3, with a bias and
        // partial tiles) and the 1x1 forward GEMM (no bias) can take them
        // (conv_winograd_bf16.hpp; layer_plugins_cpu_test forces both).
        {"type: 'Convolution' convolution_param { num_output: 16 kernel_size: 3 pad: 1 "
         "weight_filler { type: 'gaussian' std: 0.1 } bias_filler { type: 'gaussian' std: 0.3 } }",
         "2,16,5,7"},
        {"type: 'Convolution' convolution_param { num_output: 16 kernel_size: 1 bias_term: false "
         "weight_filler { type: 'gaussian' std: 0.3 } }",
         "2,16,3,5"}};
  }

 private:
#if CREMA_WITH_CUDA
  // The prototxt's name of a math type (NVCaffe's Type enum).
  static const char* type_name(crema_dtype t) {
    return t == CREMA_BFLOAT16 ? "BFLOAT16" : t == CREMA_FLOAT16 ? "FLOAT16" : "FLOAT";
  }

  // cuDNN for DEFAULT (when the host has it) and CUDNN, if its int32 descriptors hold the batch.
  void reshape_gpu(crema::Context& c, int64_t num) {
    const ConvGeometry& g = spec_.geometry;
    const bool want = engine_ == "CUDNN" || (engine_ != "CAFFE" && c.cudnn_handle());
    cudnn_on_ = want && crema::layers::ConvCudnn::fits(g, spec_.num_output, num);
    const crema_dtype x_type = c.bottom(0).dtype(), y_type = c.top(0).dtype();
    size_t bytes = 0;
    if (cudnn_on_) {
      if (!cudnn_) cudnn_ = std::make_unique<crema::layers::ConvCudnn>();
      bytes = cudnn_->plan(crema::cudnn::handle(c.cudnn_handle()), g, spec_.num_output, num,
                           c.math(), x_type, y_type);
    } else {
      bytes = gpu_gemm_.plan(g, spec_.num_output, num, c.math());
    }
    // 2-byte blobs around a method that takes fp32 only: widened copies after its workspace.
    const bool needs_fp32 = !cudnn_on_ || c.math() == CREMA_FLOAT32;
    c.request_workspace(staging_.plan(bytes, x_type, c.bottom(0).count(), y_type,
                                      num * spec_.num_output * g.out_plane(), needs_fp32));
    gpu_ready_ = true;
  }
#endif

  // Which engine computes bf16: oneDNN's convolution (its primitives reorder N,C,H,W into
  // blocked bf16 and back) or the GEMM methods with bf16 GEMMs. Measured per layer on
  // ResNet-50, batch 8, one thread (BENCHMARKS.md): oneDNN 2-4x faster on the 3x3 and 7x7
  // layers, the GEMMs 1.5-3x faster on the 1x1 layers, whose reorders cost more than their
  // products. CREMA_CONV_BF16=onednn or gemm overrides it (docs/CONFIGURATION.md).
  static bool onednn_for_bf16(const crema::layers::ConvGeometry& g) {
    if (!crema::layers::OnednnConv::available()) return false;
    if (const char* env = std::getenv("CREMA_CONV_BF16")) return std::string(env) == "onednn";
    return g.kernel_h * g.kernel_w > 1;
  }

  static bool pointwise_gemm_forward() {
    if (const char* env = std::getenv("CREMA_CONV_1X1_GEMM")) return std::string(env) == "1";
    return crema::layers::OnednnConv::bf16_without_amx();
  }

  // dE/db[o] += sum_{n,oh,ow} dy[n][o][oh][ow], dy stored as T.
  template <class T>
  static void add_bias_grad(const T* dy, int64_t num, int64_t m, int64_t out, float* db) {
    crema::parallel_for(m, 4, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        float acc[16] = {};  // 16 partial sums: a reduction the compiler vectorises
        for (int64_t n = 0; n < num; ++n) {
          const T* d = dy + (n * m + o) * out;
          int64_t k = 0;
          for (; k + 16 <= out; k += 16)
            for (int u = 0; u < 16; ++u) acc[u] += crema::load(d + k + u);
          for (; k < out; ++k) acc[k % 16] += crema::load(d + k);
        }
        float s = 0.f;
        for (float a : acc) s += a;
        db[o] += s;
      }
    });
  }
  static float* staged(std::vector<float>* buffer, int64_t count) {
    buffer->resize(static_cast<size_t>(count));
    return buffer->data();
  }
  // dE/db[o] += sum_p dy[p][o] over the rows of an N,H,W,C dy (bf16), channels in blocks so
  // that each block's rows are read as runs.
  static void add_bias_grad_channels_last(const uint16_t* dy, int64_t rows, int64_t m, float* db) {
    constexpr int64_t kBlock = 32;
    crema::parallel_for((m + kBlock - 1) / kBlock, 1, [&](int64_t b, int64_t e) {
      for (int64_t o0 = b * kBlock; o0 < std::min(m, e * kBlock); o0 += kBlock) {
        const int64_t width = std::min(kBlock, m - o0);
        float acc[kBlock] = {};
        for (int64_t p = 0; p < rows; ++p)
          for (int64_t k = 0; k < width; ++k) acc[k] += crema::bf16_to_float(dy[p * m + o0 + k]);
        for (int64_t k = 0; k < width; ++k) db[o0 + k] += acc[k];
      }
    });
  }
  // fp32 N,C,H,W values x into tensor t's data (or diff): rounded where it is bf16, transposed
  // too where it is N,H,W,C.
  static void round_into(const float* x, const crema::TensorView& t, bool diff) {
    uint16_t* out = diff ? t.diff_bf16() : t.data_bf16();
    if (t.channels_last())
      return crema::layers::transpose_planes(x, false, t.dim(0), t.dim(1), t.count(2), out, true);
    crema::parallel_for(t.count(), 1 << 15,
                        [&](int64_t b, int64_t e) { crema::store_bf16(out + b, x + b, e - b); });
  }
  // A tensor's data (or diff) as fp32 N,C,H,W: itself, or widened (and transposed where it is
  // N,H,W,C) into `buffer` where it is bf16.
  static const float* as_fp32(const crema::TensorView& t, bool diff, std::vector<float>* buffer) {
    if (!t.is_bf16()) return diff ? t.diff() : t.data();
    const uint16_t* x = diff ? t.diff_bf16() : t.data_bf16();
    float* out = staged(buffer, t.count());
    if (t.channels_last()) {
      crema::layers::transpose_planes(x, true, t.dim(0), t.count(2), t.dim(1), out, false);
      return out;
    }
    crema::parallel_for(t.count(), 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = crema::bf16_to_float(x[i]);
    });
    return out;
  }

  crema::layers::ConvSpec spec_;
  std::string engine_;  // convolution_param.engine: DEFAULT, CAFFE or CUDNN
  int channels_ = 0;
  crema::layers::ConvGemm::Tuning tuning_;
  crema::layers::ConvGemm gemm_;
  bool onednn_ = false;  // bf16 through oneDNN (planned in reshape): onednn_conv_ is ready
  bool x_bf16_ = false, y_bf16_ = false;  // the bottom's / top's storage (reshape)
  bool channels_last_ = false;            // either stored N,H,W,C (reshape)
  bool pointwise_last_ = false;           // 1x1 gradients by pointwise_last_conv_ (reshape)
  bool pointwise_forward_ = false;        // and the forward pass (reshape)
  crema::layers::PointwiseChannelsLast pointwise_last_conv_;
  bool weight_grad_last_ = false;  // KxK dE/dW by weight_grad_last_conv_ (reshape)
  crema::layers::WeightGradChannelsLast weight_grad_last_conv_;
  bool winograd_last_ = false;  // 3x3 stride 1: every pass by winograd_conv_ (reshape)
  crema::layers::WinogradBf16 winograd_conv_;
  std::vector<float> x32_, y32_, dx32_;  // bf16 tensors widened for the fp32 methods
  crema::layers::OnednnConv onednn_conv_;
#if CREMA_WITH_CUDA
  bool gpu_ready_ = false, cudnn_on_ = false;
  std::unique_ptr<crema::layers::ConvCudnn> cudnn_;  // created on the first GPU reshape
  crema::layers::ConvGpuGemm gpu_gemm_;
  crema::layers::GpuFp32Staging staging_;
#endif
};

CREMA_EXPORT_PLUGIN("convolution", "1.0.0", Convolution)
