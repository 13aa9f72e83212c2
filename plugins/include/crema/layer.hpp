// SPDX-License-Identifier: BSD-2-Clause
//
// The C++ side of a layer plugin: write an ordinary class, export it with one macro.
//
//   class Swish final : public crema::Layer<Swish> {
//    public:
//     static crema::LayerInfo info() { return {"Swish", "swish_param", 10001, "crema.swish.SwishParameter"}; }
//     explicit Swish(const crema::Params& p) : beta_(p.get<float>("swish_param.beta")) {}
//     void reshape(crema::Context& c) { c.top(0).set_shape(c.bottom(0).shape()); }
//     void forward_cpu(crema::Context& c);
//     void backward_cpu(crema::Context& c);
//   };
//   CREMA_EXPORT_PLUGIN("swish", "1.0.0", Swish)
//
// Optional members: setup(), backward_cpu(), forward_cuda()/backward_cuda(), tests(), and
// bool absorb(const std::string& next_type, const crema::Params& next) to compute the in-place
// layers after this one inside its own CPU passes (see crema_layer_desc.absorb; Context's
// num_absorbed() says when a call does).
//
// Header-only on purpose: the host's C++ ABI never leaks into plugins; only plugin_abi.h crosses.
// Exceptions thrown by the class are caught in the trampolines and become CREMA_ERROR + message.
#ifndef CREMA_LAYER_HPP
#define CREMA_LAYER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "crema/plugin_abi.h"

namespace crema {

// Thrown inside a plugin; reaches the host as an error message, never as an exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

#define CREMA_CHECK(cond, msg)                     \
  do {                                             \
    if (!(cond)) {                                 \
      std::ostringstream crema_check_os_;          \
      crema_check_os_ << msg;                      \
      throw ::crema::Error(crema_check_os_.str()); \
    }                                              \
  } while (0)

namespace detail {
// The host table handed to crema_plugin_entry; one per plugin library (hidden visibility).
inline const crema_host*& host_ref() {
  static const crema_host* host = nullptr;
  return host;
}
}  // namespace detail

inline const crema_host& host() { return *detail::host_ref(); }

using Shape = std::vector<int64_t>;

inline std::string shape_string(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

// Reads the layer's LayerParameter by field path, e.g. "convolution_param.kernel_size".
class Params {
 public:
  explicit Params(const crema_params* p) : p_(p) {}

  template <class T>
  T get(const std::string& path, int index = 0) const {
    if constexpr (std::is_same_v<T, bool>) {
      int32_t v = 0;
      check(host().param_bool(p_, path.c_str(), index, &v));
      return v != 0;
    } else if constexpr (std::is_integral_v<T>) {
      int64_t v = 0;
      check(host().param_int(p_, path.c_str(), index, &v));
      return static_cast<T>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      check(host().param_float(p_, path.c_str(), index, &v));
      return static_cast<T>(v);
    } else {
      const char* v = nullptr;
      check(host().param_string(p_, path.c_str(), index, &v));
      return std::string(v ? v : "");
    }
  }
  bool has(const std::string& path) const {
    int32_t v = 0;
    check(host().param_has(p_, path.c_str(), &v));
    return v != 0;
  }
  int size(const std::string& path) const {
    int32_t v = 0;
    check(host().param_size(p_, path.c_str(), &v));
    return v;
  }
  // Caffe's "repeated field with one value for all" idiom (kernel_size, stride, pad, dilation).
  template <class T>
  T get_repeated_or(const std::string& path, int index, T fallback) const {
    int n = size(path);
    if (n == 0) return fallback;
    return get<T>(path, n == 1 ? 0 : index);
  }
  std::string layer_name() const { return host().param_layer_name(p_); }
  const crema_params* raw() const { return p_; }

 private:
  static void check(int32_t status) {
    if (status != CREMA_OK) throw Error("");  // the host already recorded the message
  }
  const crema_params* p_;
};

// A view of one host-owned tensor (the host's own tensor class is crema::Tensor in core/).
// In reshape() a top has no shape (ndim() -1) until set_shape().
class TensorView {
 public:
  explicit TensorView(crema_tensor* t) : t_(t) {}
  int ndim() const { return t_->ndim; }
  int64_t dim(int axis) const { return t_->dims[canonical_axis(axis)]; }
  Shape shape() const { return t_->ndim > 0 ? Shape(t_->dims, t_->dims + t_->ndim) : Shape(); }
  // reshape(): the shape a top had before this call, for a layer that keeps it (Input keeps the
  // shapes the user gives its tops): c.top(i).set_shape(c.top(i).previous_shape()).
  Shape previous_shape() const {
    const int n = t_->ndim >= 0 ? t_->ndim : t_->prev_ndim;
    return n > 0 ? Shape(t_->dims, t_->dims + n) : Shape();
  }
  int64_t count(int from = 0, int to = -1) const {
    if (to < 0) to = t_->ndim > 0 ? t_->ndim : 0;
    int64_t n = 1;
    for (int i = from; i < to; ++i) n *= t_->dims[i];
    return n;
  }
  int canonical_axis(int axis) const {
    int a = axis < 0 ? axis + t_->ndim : axis;
    CREMA_CHECK(a >= 0 && a < (t_->ndim > 0 ? t_->ndim : 1),
                "axis " << axis << " out of range for a " << t_->ndim << "-d tensor");
    return a;
  }
  void set_shape(const Shape& s) {
    CREMA_CHECK(s.size() <= CREMA_MAX_DIMS, "at most " << CREMA_MAX_DIMS << " dimensions");
    t_->ndim = static_cast<int32_t>(s.size());
    for (size_t i = 0; i < s.size(); ++i) t_->dims[i] = s[i];
  }
  // The storage type of data and diff: CREMA_FLOAT32 unless the layer declared another
  // (LayerInfo::cpu_storage) and the net chose it for this tensor.
  crema_dtype dtype() const { return static_cast<crema_dtype>(t_->dtype & CREMA_DTYPE_MASK); }
  bool is_bf16() const { return dtype() == CREMA_BFLOAT16; }
  // Stored N,H,W,C (dims stay N,C,H,W): only a 4-D bf16 tensor of a layer that declared
  // LayerInfo::cpu_layouts. Element (n, c, h, w) is at ((n*H + h)*W + w)*C + c.
  bool channels_last() const { return (t_->dtype & CREMA_CHANNELS_LAST) != 0; }
  float* data() const { return static_cast<float*>(checked(CREMA_FLOAT32, t_->data)); }
  float* diff() const { return static_cast<float*>(checked(CREMA_FLOAT32, t_->diff)); }
  // A bf16 tensor's values (crema/bf16.hpp converts them).
  uint16_t* data_bf16() const { return static_cast<uint16_t*>(checked(CREMA_BFLOAT16, t_->data)); }
  uint16_t* diff_bf16() const { return static_cast<uint16_t*>(checked(CREMA_BFLOAT16, t_->diff)); }
  // Calls fn with data and diff as pointers of the tensor's storage type (float* or uint16_t*),
  // for kernels written once over both (crema::load / crema::store).
  template <class Fn>
  decltype(auto) visit(const Fn& fn) const {
    if (is_bf16()) return fn(data_bf16(), diff_bf16());
    return fn(data(), diff());
  }
  bool same_memory(const TensorView& o) const { return t_->data == o.t_->data; }
  // Whether the host gave this tensor o's diff memory (passes_gradient, ABI minor 8).
  bool same_diff(const TensorView& o) const { return t_->diff && t_->diff == o.t_->diff; }
  crema_tensor* raw() const { return t_; }

 private:
  void* checked(crema_dtype want, void* p) const {
    CREMA_CHECK(dtype() == want, "a " << (dtype() == CREMA_BFLOAT16  ? "bf16"
                                          : dtype() == CREMA_FLOAT16 ? "fp16"
                                                                     : "fp32")
                                      << " tensor read as "
                                      << (want == CREMA_FLOAT32 ? "fp32" : "bf16")
                                      << ": check TensorView::dtype()");
    return p;
  }
  crema_tensor* t_;
};

// Everything a layer sees during setup, reshape, forward and backward.
class Context {
 public:
  Context(const crema_exec* exec, crema_io* io, crema_param_decls* decls = nullptr,
          size_t* workspace_bytes = nullptr)
      : exec_(exec), io_(io), decls_(decls), workspace_bytes_(workspace_bytes) {}
  int num_bottom() const { return io_->n_bottom; }
  int num_top() const { return io_->n_top; }
  int num_param() const { return io_->n_param; }
  TensorView bottom(int i) const { return TensorView(&io_->bottom[i]); }
  TensorView top(int i) const { return TensorView(&io_->top[i]); }
  TensorView param(int i) const { return TensorView(&io_->param[i]); }
  bool propagate_down(int i) const { return io_->propagate_down && io_->propagate_down[i]; }
  bool params_need_grad() const { return io_->params_need_grad != 0; }
  // Absorbed layers this call computes too (see crema_layer_desc.absorb; 0 on GPU calls), and
  // in backward whether absorbed layer k's parameters take gradients.
  int num_absorbed() const {
    return io_->struct_size >= offsetof(crema_io, absorbed_params_need_grad) + sizeof(void*)
               ? io_->n_absorbed
               : 0;
  }
  bool absorbed_params_need_grad(int k) const {
    return k < num_absorbed() && io_->absorbed_params_need_grad &&
           io_->absorbed_params_need_grad[k] != 0;
  }
  bool training() const { return exec_->phase == CREMA_TRAIN; }
  crema_phase phase() const { return static_cast<crema_phase>(exec_->phase); }
  uint64_t rng_seed() const { return exec_->rng_seed; }
  uint64_t rng_counter() const { return exec_->rng_counter; }
  int num_threads() const { return exec_->num_threads; }
  template <class T = float>
  T* workspace() const {
    return static_cast<T*>(exec_->workspace);
  }
  size_t workspace_size() const { return exec_->workspace_size; }
  bool on_gpu() const { return exec_->device == CREMA_CUDA; }
  void* cuda_stream() const { return exec_->cuda_stream; }
  void* cublas_handle() const { return exec_->cublas_handle; }
  void* cudnn_handle() const { return exec_->cudnn_handle; }  // nullptr without cuDNN
  const crema_exec* exec() const { return exec_; }
  // The type this call computes in: CREMA_FLOAT32 unless the layer declared a narrower one for
  // this device (LayerInfo::cpu_math / cuda_math) and the net asks for it. Tensors stay fp32.
  crema_dtype math() const {
    const bool has = exec_->struct_size >= offsetof(crema_exec, math) + sizeof(int32_t);
    return has ? static_cast<crema_dtype>(exec_->math) : CREMA_FLOAT32;
  }
  // Data-parallel training (minor 3): this process's rank and the number of ranks (0 of 1 from
  // hosts before minor 3 and alone). See crema_exec.world_rank.
  int world_rank() const { return has_world() ? exec_->world_rank : 0; }
  int world_size() const { return has_world() && exec_->world_size > 0 ? exec_->world_size : 1; }
  // Sums `count` floats at `data` (on this call's device) in place over every rank; alone, or on
  // a host without the service, nothing to do.
  void allreduce_sum(float* data, int64_t count) const {
    if (world_size() == 1) return;
    const crema_host& h = host();
    const bool has = h.struct_size >= offsetof(crema_host, allreduce_sum) + sizeof(void*) &&
                     h.allreduce_sum != nullptr;
    CREMA_CHECK(has, "this host cannot reduce across ranks (it predates plugin ABI 1.3)");
    CREMA_CHECK(h.allreduce_sum(exec_, data, count) == CREMA_OK, "allreduce across ranks failed");
  }

  // reshape(): scratch memory wanted for forward/backward, on the call's device.
  void request_workspace(size_t bytes) {
    if (workspace_bytes_ && bytes > *workspace_bytes_) *workspace_bytes_ = bytes;
  }
  // setup(): declare a parameter blob; returns its index for param(i).
  int add_param(const Shape& shape, const char* filler_path,
                const char* default_filler = "constant", float default_value = 0.f,
                bool is_state = false) {
    CREMA_CHECK(decls_ != nullptr, "add_param is only allowed in setup()");
    crema_param_spec spec{};
    spec.struct_size = sizeof(spec);
    spec.ndim = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) spec.dims[i] = shape[i];
    spec.filler_path = filler_path;
    spec.default_filler = default_filler;
    spec.default_value = default_value;
    spec.is_state = is_state;
    int32_t idx = host().declare_param(decls_, &spec);
    CREMA_CHECK(idx >= 0, "declare_param failed");
    return idx;
  }

 private:
  bool has_world() const {
    return exec_->struct_size >= offsetof(crema_exec, world_size) + sizeof(int32_t);
  }
  const crema_exec* exec_;
  crema_io* io_;
  crema_param_decls* decls_;
  size_t* workspace_bytes_;
};

// Host BLAS, row-major: C = alpha * op(A) * op(B) + beta * C with op(A) MxK, op(B) KxN.
inline void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                 const float* b, float beta, float* c) {
  host().sgemm(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c,
               n);
}
// Whether the host computes GEMMs with bf16 products on this CPU (crema_host.gemm_bf16): a
// layer declares bf16 math (LayerInfo::cpu_math) only then.
inline bool host_has_bf16_gemm() {
  const crema_host& h = host();
  return h.struct_size >= offsetof(crema_host, gemm_bf16) + sizeof(void*) && h.gemm_bf16;
}
// The same GEMM with explicit leading dimensions, computed in `math`: bf16 products with fp32
// sums where the host has them, fp32 otherwise.
inline void gemm(crema_dtype math, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (math == CREMA_BFLOAT16 && host_has_bf16_gemm())
    host().gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    host().sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
// Whether the host also takes GEMM operands already rounded to bf16 (crema_host.gemm_bf16_typed,
// ABI 1.4): a layer that feeds one operand to several GEMMs rounds it once with round_bf16.
inline bool host_has_bf16_operands() {
  const crema_host& h = host();
  return h.struct_size >= offsetof(crema_host, round_bf16) + sizeof(void*) && h.gemm_bf16_typed &&
         h.round_bf16;
}
// dst[i] = x[i] rounded to bf16, as the host's bf16 GEMMs round (needs host_has_bf16_operands).
inline void round_bf16(const float* x, int64_t n, uint16_t* dst) { host().round_bf16(x, n, dst); }
// One operand of gemm_bf16 below: fp32 values (rounded by the GEMM) or bf16 ones from round_bf16.
struct GemmOperand {
  const void* data;
  crema_dtype type;
  int ld;  // leading dimension, in elements
};
inline GemmOperand fp32_operand(const float* data, int ld) { return {data, CREMA_FLOAT32, ld}; }
inline GemmOperand bf16_operand(const uint16_t* data, int ld) { return {data, CREMA_BFLOAT16, ld}; }
// C = alpha * op(A) * op(B) + beta * C with bf16 products and fp32 sums (needs
// host_has_bf16_operands).
inline void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, GemmOperand a,
                      GemmOperand b, float beta, float* c, int ldc) {
  host().gemm_bf16_typed(trans_a, trans_b, m, n, k, alpha, a.data, a.type, a.ld, b.data, b.type,
                         b.ld, beta, c, ldc);
}
// Whether the host also writes bf16 results (crema_host.gemm_bf16_to, ABI 1.5).
inline bool host_has_bf16_results() {
  const crema_host& h = host();
  return h.struct_size >= offsetof(crema_host, gemm_bf16_to) + sizeof(void*) && h.gemm_bf16_to;
}
// gemm_bf16 above with C stored in bf16 (uint16_t): the fp32 sums rounded once into C (needs
// host_has_bf16_results).
inline void gemm_bf16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, GemmOperand a,
                      GemmOperand b, float beta, uint16_t* c, int ldc) {
  host().gemm_bf16_to(trans_a, trans_b, m, n, k, alpha, a.data, a.type, a.ld, b.data, b.type, b.ld,
                      beta, c, CREMA_BFLOAT16, ldc);
}
// Dense operands, as gemm() above, computed in `math`.
inline void gemm(crema_dtype math, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                 const float* a, const float* b, float beta, float* c) {
  gemm(math, trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n);
}
// y = alpha * op(A) * x + beta * y with A MxN.
inline void gemv(bool trans_a, int m, int n, float alpha, const float* a, const float* x,
                 float beta, float* y) {
  host().sgemv(trans_a, m, n, alpha, a, n, x, beta, y);
}

// The same GEMM on the GPU (cuBLAS on the call's stream), device pointers, row-major.
inline void gpu_gemm(const Context& c, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float* a, const float* b, float beta, float* out) {
  CREMA_CHECK(host().gpu_sgemm != nullptr, "this crema was built without CUDA");
  CREMA_CHECK(host().gpu_sgemm(c.exec(), trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b,
                               trans_b ? k : n, beta, out, n) == CREMA_OK,
              "cuBLAS sgemm failed (" << m << "x" << n << "x" << k << ")");
}
// y = alpha * op(A) * x + beta * y on the GPU, A is MxN row-major.
inline void gpu_gemv(const Context& c, bool trans_a, int m, int n, float alpha, const float* a,
                     const float* x, float beta, float* y) {
  // op(A) x as a GEMM with one column: (M x N)(N x 1), or A^T: (N x M)(M x 1).
  if (trans_a)
    gpu_gemm(c, true, false, n, 1, m, alpha, a, x, beta, y);
  else
    gpu_gemm(c, false, false, m, 1, n, alpha, a, x, beta, y);
}
// Runs fn(begin, end) over [0, n) on the host's threads.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, const Fn& fn) {
  if (n <= 0) return;
  if (n <= grain) {
    fn(int64_t{0}, n);
    return;
  }
  host().parallel_for(
      n, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<const Fn*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// What the host needs to know about a layer type before creating one.
struct LayerInfo {
  const char* type;
  const char* param_field = nullptr;    // e.g. "convolution_param"
  uint32_t param_field_number = 0;      // only for blocks the core does not know
  const char* param_message = nullptr;  // full message name in the plugin's schema
  int min_bottoms = 1, max_bottoms = 1, min_tops = 1, max_tops = 1;
  uint32_t flags = 0;
  uint32_t no_grad_bottoms = 0;
  uint32_t layer_version = 1;
  // Math types besides fp32 each path computes in (CREMA_DTYPE_BIT(CREMA_BFLOAT16) | ...): the
  // host asks for one (Context::math()) only where it is declared here. Minor 3.
  uint32_t cpu_math = 0, cuda_math = 0;
  // Storage types besides fp32 each path takes its bottoms and tops in (crema_layer_ext
  // .cpu_storage): every bottom and top arrives fp32 or in a declared type, each on its own
  // (TensorView::dtype()). Minor 5; fp16 in cuda_storage from minor 7 (crema::cuda::Values).
  uint32_t cpu_storage = 0, cuda_storage = 0;
  // Memory orders the CPU path takes its 4-D bf16 bottoms and tops in besides N,C,H,W
  // (CREMA_LAYOUT_CHANNELS_LAST, with CREMA_LAYOUT_MIXED where they may differ per tensor;
  // TensorView::channels_last() says which each has). Minor 6.
  uint32_t cpu_layouts = 0;
};

// A configuration for the gradient checker (crema check-plugin, the harness's check_config and
// crema's own sweeps): LayerParameter text and bottom shapes "2,3,4;2,3", and optionally how the
// inputs are drawn and how the checker runs; a zero field means the checker's default
// (inputs N(0, 1), step 1e-2, threshold 1e-2, no kinks):
//   {"type: 'ReLU'", "2,3,4,5"}
//   crema::TestConfig{"type: 'Clip'", "4,250"}.with_uniform_inputs(-2, 2).with_kinks({-1, 1})
struct TestConfig {
  const char* layer_text;
  const char* bottom_shapes;
  double step = 0, threshold = 0;
  std::vector<double> kinks = {};  // at most CREMA_MAX_KINKS
  double kink_range = 0;           // 0: the step
  crema_test_input input = CREMA_TEST_INPUT_DEFAULT;
  double input_std = 0, input_lo = 0, input_hi = 0;

  TestConfig with_step(double s) const {
    return with([&](TestConfig& t) { t.step = s; });
  }
  TestConfig with_threshold(double v) const {
    return with([&](TestConfig& t) { t.threshold = v; });
  }
  // Inputs within `range` of a kink are not probed (0: the step, whose probes straddle it).
  TestConfig with_kinks(const std::vector<double>& k, double range = 0) const {
    CREMA_CHECK(k.size() <= CREMA_MAX_KINKS, "a test configuration takes at most "
                                                 << CREMA_MAX_KINKS << " kinks, got " << k.size());
    return with([&](TestConfig& t) { t.kinks = k, t.kink_range = range; });
  }
  TestConfig with_gaussian_inputs(double std) const {
    return with([&](TestConfig& t) { t.input = CREMA_TEST_INPUT_GAUSSIAN, t.input_std = std; });
  }
  TestConfig with_uniform_inputs(double lo, double hi) const {
    return with([&](TestConfig& t) {
      t.input = CREMA_TEST_INPUT_UNIFORM, t.input_lo = lo, t.input_hi = hi;
    });
  }

  crema_test_settings settings() const {
    CREMA_CHECK(kinks.size() <= CREMA_MAX_KINKS, "a test configuration takes at most "
                                                     << CREMA_MAX_KINKS << " kinks, got "
                                                     << kinks.size());
    crema_test_settings s{};
    s.struct_size = sizeof(s);
    s.input = input;
    s.input_std = input_std;
    s.input_lo = input_lo;
    s.input_hi = input_hi;
    s.step = step;
    s.threshold = threshold;
    s.n_kinks = static_cast<uint32_t>(kinks.size());
    for (uint32_t i = 0; i < s.n_kinks; ++i) s.kinks[i] = kinks[i];
    s.kink_range = kink_range;
    return s;
  }

 private:
  template <class Fn>
  TestConfig with(const Fn& fn) const {
    TestConfig t = *this;
    fn(t);
    return t;
  }
};

namespace detail {
template <class T, class = void>
struct has_setup : std::false_type {};
template <class T>
struct has_setup<T, std::void_t<decltype(&T::setup)>> : std::true_type {};
template <class T, class = void>
struct has_backward_cpu : std::false_type {};
template <class T>
struct has_backward_cpu<T, std::void_t<decltype(&T::backward_cpu)>> : std::true_type {};
template <class T, class = void>
struct has_forward_cuda : std::false_type {};
template <class T>
struct has_forward_cuda<T, std::void_t<decltype(&T::forward_cuda)>> : std::true_type {};
template <class T, class = void>
struct has_backward_cuda : std::false_type {};
template <class T>
struct has_backward_cuda<T, std::void_t<decltype(&T::backward_cuda)>> : std::true_type {};
template <class T, class = void>
struct has_absorb : std::false_type {};
template <class T>
struct has_absorb<T, std::void_t<decltype(&T::absorb)>> : std::true_type {};
template <class T, class = void>
struct has_onnx_export : std::false_type {};
template <class T>
struct has_onnx_export<T, std::void_t<decltype(&T::onnx_export)>> : std::true_type {};
template <class T, class = void>
struct has_passes_gradient : std::false_type {};
template <class T>
struct has_passes_gradient<T, std::void_t<decltype(&T::passes_gradient)>> : std::true_type {};
template <class T, class = void>
struct has_tests : std::false_type {};
template <class T>
struct has_tests<T, std::void_t<decltype(&T::tests)>> : std::true_type {};

template <class Fn>
int32_t guarded(Fn&& fn) {
  try {
    fn();
    return CREMA_OK;
  } catch (const Error& e) {
    if (e.what()[0]) host().set_error(e.what());
  } catch (const std::exception& e) {
    host().set_error(e.what());
  } catch (...) {
    host().set_error("unknown exception in plugin");
  }
  return CREMA_ERROR;
}
}  // namespace detail

// CRTP base: builds the C descriptor from the derived class's info() and methods.
template <class Derived>
class Layer {
 public:
  virtual ~Layer() = default;

  static crema_layer_desc descriptor() {
    static const LayerInfo info = Derived::info();
    crema_layer_desc d{};
    d.struct_size = sizeof(d);
    d.type = info.type;
    d.layer_version = info.layer_version;
    d.param_field = info.param_field;
    d.param_field_number = info.param_field_number;
    d.param_message = info.param_message;
    d.min_bottoms = info.min_bottoms;
    d.max_bottoms = info.max_bottoms;
    d.min_tops = info.min_tops;
    d.max_tops = info.max_tops;
    d.flags = info.flags;
    d.no_grad_bottoms = info.no_grad_bottoms;
    d.create = &create;
    d.destroy = &destroy;
    d.setup = &setup;
    d.reshape = &reshape;
    d.forward_cpu = &forward_cpu;
    if constexpr (detail::has_backward_cpu<Derived>::value) d.backward_cpu = &backward_cpu;
    if constexpr (detail::has_forward_cuda<Derived>::value) d.forward_cuda = &forward_cuda;
    if constexpr (detail::has_backward_cuda<Derived>::value) d.backward_cuda = &backward_cuda;
    if constexpr (detail::has_absorb<Derived>::value) d.absorb = &absorb;
    return d;
  }

  static std::vector<TestConfig> test_configs() {
    if constexpr (detail::has_tests<Derived>::value) return Derived::tests();
    return {};
  }

 private:
  static Derived* self(void* s) { return static_cast<Derived*>(s); }
  static int32_t create(const crema_host*, const crema_params* p, void** out) {
    return detail::guarded([&] { *out = new Derived(Params(p)); });
  }
  static void destroy(void* s) { delete self(s); }
  static int32_t setup(void* s, const crema_exec* e, crema_io* io, crema_param_decls* decls) {
    return detail::guarded([&] {
      if constexpr (detail::has_setup<Derived>::value) {
        Context c(e, io, decls);
        self(s)->setup(c);
      }
    });
  }
  static int32_t reshape(void* s, const crema_exec* e, crema_io* io, size_t* ws) {
    return detail::guarded([&] {
      Context c(e, io, nullptr, ws);
      self(s)->reshape(c);
    });
  }
  static int32_t forward_cpu(void* s, const crema_exec* e, crema_io* io) {
    return detail::guarded([&] {
      Context c(e, io);
      self(s)->forward_cpu(c);
    });
  }
  static int32_t backward_cpu(void* s, const crema_exec* e, crema_io* io) {
    return detail::guarded([&] {
      if constexpr (detail::has_backward_cpu<Derived>::value) {
        Context c(e, io);
        self(s)->backward_cpu(c);
      }
    });
  }
  // const crema_onnx_graph* onnx_export(const crema_io& io) (ABI minor 3, optional): the
  // layer's ONNX form for crema export, in storage the layer owns (crema_layer_ext.onnx_export);
  // throw crema::Error for a configuration without one.
  static int32_t onnx_export_entry(void* s, const crema_io* io, const crema_onnx_graph** graph) {
    return detail::guarded([&] {
      if constexpr (detail::has_onnx_export<Derived>::value) *graph = self(s)->onnx_export(*io);
    });
  }

 public:
  using OnnxExportFn = int32_t (*)(void*, const crema_io*, const crema_onnx_graph**);
  // crema_layer_ext.onnx_export: the entry above when the layer has onnx_export, else NULL.
  static OnnxExportFn onnx_export_hook() {
    if constexpr (detail::has_onnx_export<Derived>::value) return &onnx_export_entry;
    return nullptr;
  }
  // uint32_t passes_gradient() const (ABI minor 8, optional): the bottoms whose gradient is top
  // 0's unchanged (crema_layer_ext.passes_gradient); backward must then leave a bottom whose
  // diff is top 0's (TensorView::same_diff) as it is. 0 on any error.
  using PassesGradientFn = uint32_t (*)(void*);
  static PassesGradientFn passes_gradient_hook() {
    if constexpr (detail::has_passes_gradient<Derived>::value)
      return [](void* s) -> uint32_t {
        try {
          return self(s)->passes_gradient();
        } catch (...) {
          return 0;
        }
      };
    return nullptr;
  }

 private:
  // bool absorb(const std::string& next_type, const Params& next): false on any error.
  static int32_t absorb(void* s, const char* type, const crema_params* p) {
    if constexpr (detail::has_absorb<Derived>::value) {
      try {
        return self(s)->absorb(std::string(type), Params(p)) ? 1 : 0;
      } catch (...) {
        return 0;
      }
    }
    return 0;
  }
  static int32_t forward_cuda(void* s, const crema_exec* e, crema_io* io) {
    return detail::guarded([&] {
      if constexpr (detail::has_forward_cuda<Derived>::value) {
        Context c(e, io);
        self(s)->forward_cuda(c);
      }
    });
  }
  static int32_t backward_cuda(void* s, const crema_exec* e, crema_io* io) {
    return detail::guarded([&] {
      if constexpr (detail::has_backward_cuda<Derived>::value) {
        Context c(e, io);
        self(s)->backward_cuda(c);
      }
    });
  }
};

namespace detail {
// Weak: defined by the file crema_add_layer_plugin() generates when the plugin has a PROTO.
extern "C" __attribute__((weak)) const unsigned char* crema_plugin_schema(size_t* size);

inline crema_layer_ext layer_extension(const LayerInfo& info,
                                       int32_t (*onnx_export)(void*, const crema_io*,
                                                              const crema_onnx_graph**) = nullptr,
                                       uint32_t (*passes_gradient)(void*) = nullptr) {
  crema_layer_ext e{};
  e.struct_size = sizeof(e);
  e.cpu_math = info.cpu_math;
  e.cuda_math = info.cuda_math;
  e.onnx_export = onnx_export;
  e.cpu_storage = info.cpu_storage;
  e.cuda_storage = info.cuda_storage;
  e.cpu_layouts = info.cpu_layouts;
  e.passes_gradient = passes_gradient;
  return e;
}

template <class... Layers>
const crema_plugin* make_plugin(const crema_host* h, const char* name, const char* version) {
  if (!h) return nullptr;
  if (h->abi_major != CREMA_ABI_MAJOR) {
    // Only the table's first members are common to every major (see crema_host).
    if (h->struct_size >= offsetof(crema_host, set_error) + sizeof(h->set_error) && h->set_error) {
      const std::string why = std::string(name) + " " + version + " was built for ABI major " +
                              std::to_string(CREMA_ABI_MAJOR) + ", host speaks " +
                              std::to_string(h->abi_major) +
                              ": rebuild the plugin against this crema's SDK";
      h->set_error(why.c_str());
    }
    return nullptr;
  }
  host_ref() = h;
  static const crema_layer_desc layers[] = {Layers::descriptor()...};
  static const crema_layer_ext layer_ext[] = {layer_extension(
      Layers::info(), Layers::onnx_export_hook(), Layers::passes_gradient_hook())...};
  static std::vector<crema_test_config> tests;
  static std::vector<crema_test_settings> settings;
  static crema_plugin plugin{};
  if (!plugin.struct_size) {
    // tests() runs here: what it throws (too many kinks) refuses the plugin with its message.
    if (guarded([&] {
          for (const auto& list : {Layers::test_configs()...})
            for (const TestConfig& t : list) {
              tests.push_back({t.layer_text, t.bottom_shapes});
              settings.push_back(t.settings());
            }
        }) != CREMA_OK) {
      tests.clear();
      settings.clear();
      return nullptr;
    }
    plugin.struct_size = sizeof(plugin);
    plugin.abi_major = CREMA_ABI_MAJOR;
    // The oldest minor whose features this wrapper needs: 0. What later minors added (absorb,
    // n_absorbed, test_settings, prev_ndim) is read only when the host or the struct has it.
    plugin.abi_minor_required = 0;
    plugin.name = name;
    if (crema_plugin_schema) plugin.schema = crema_plugin_schema(&plugin.schema_size);
    plugin.n_layers = sizeof...(Layers);
    plugin.layers = layers;
    plugin.n_tests = static_cast<uint32_t>(tests.size());
    plugin.tests = tests.data();
    plugin.test_settings = settings.data();
    plugin.layer_ext = layer_ext;
  }
  plugin.version = version;
  return &plugin;
}
}  // namespace detail
}  // namespace crema

// Writes the plugin's one exported symbol. Use once per shared library.
#define CREMA_EXPORT_PLUGIN(NAME, VERSION, ...)                                             \
  extern "C" __attribute__((visibility("default"))) const crema_plugin* crema_plugin_entry( \
      const crema_host* host) {                                                             \
    return ::crema::detail::make_plugin<__VA_ARGS__>(host, NAME, VERSION);                  \
  }

#endif  // CREMA_LAYER_HPP
