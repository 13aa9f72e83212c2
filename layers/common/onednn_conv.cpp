// SPDX-License-Identifier: BSD-2-Clause
// oneDNN's convolution primitives in bf16 with crema's N,C,H,W tensors, fp32 or bf16, at the
// edges (onednn_conv.hpp). Every pass reorders its inputs into the bf16 layouts the primitive
// picked (format "any": N,H,W,C or blocked for AMX), runs, and reorders the result back; dE/dW is
// added to the layer's gradient by the reorder itself (a sum post-op). Between N,C,H,W and
// N,H,W,C crema's own one-pass transposes replace oneDNN's reorders (layout_bf16.hpp; 2-3x
// faster, measured in BENCHMARKS.md). The scratch lives in the layer's workspace, shared by
// every layer of the net, except the forward's bf16 input, which the layer keeps for dE/dW
// (as PyTorch's autocast keeps the cast input): one conversion of x a step instead of two.
#include "crema/layers/onednn_conv.hpp"

#include "crema/layers/im2col.hpp"
#include "crema/layers/layout_bf16.hpp"

#if CREMA_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif
#include <algorithm>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace crema::layers {

#if CREMA_WITH_ONEDNN
namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One slice of the workspace: its offset, and the oneDNN memory that views it per call.
struct Slot {
  size_t offset = 0;
  memory mem;
  bool user = false;  // the layer's own tensor, already in the primitive's layout: no copy
};

size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Places a buffer of descriptor d at the end of a pass's scratch layout.
Slot place(const memory::desc& d, size_t* end) {
  Slot s{*end, memory(d, cpu_engine(), DNNL_MEMORY_NONE)};
  *end += aligned(d.get_size());
  return s;
}
// The primitive's buffer for a tensor of the layer whose own memory has descriptor `user`: that
// memory itself where the descriptors agree (a channels-last bf16 blob), else scratch.
Slot place_or_use(const memory::desc& d, const memory& user, size_t* end) {
  if (d == user.get_desc()) return Slot{0, memory(d, cpu_engine(), DNNL_MEMORY_NONE), true};
  return place(d, end);
}

void* at(void* ws, const Slot& s) { return static_cast<char*>(ws) + s.offset; }

// An activation crossing between crema's N,C,H,W tensor (fp32, or bf16 where the net stores it
// so) and a primitive's buffer: by crema's transposes where the primitive's side is N,H,W,C,
// else by oneDNN's reorder.
struct Edge {
  dnnl::reorder reorder;
  bool nhwc = false, to_nhwc = false;
  int64_t num = 0, channels = 0, plane = 0;
};
bool has_layout(const memory& m, const memory::dims& d, tag t) {
  return m.get_desc() == memory::desc(d, m.get_desc().data_type(), t);
}
bool is_bf16(const memory& m) { return m.get_desc().data_type() == dt::bf16; }
// `from` -> `to` for activations of dims d, one side crema's N,C,H,W; none where the primitive
// uses the layer's tensor itself (`direct`).
Edge edge(const memory& from, const memory& to, const memory::dims& d, bool direct = false) {
  if (direct) return Edge{};
  Edge e{dnnl::reorder(from, to), false, false, d[0], d[1], d[2] * d[3]};
  e.to_nhwc = has_layout(from, d, tag::nchw) && has_layout(to, d, tag::nhwc);
  const bool from_nhwc = has_layout(from, d, tag::nhwc) && has_layout(to, d, tag::nchw);
  const bool fp32 = !is_bf16(from) && !is_bf16(to);
  e.nhwc = (e.to_nhwc || from_nhwc) && (layout_bf16_available() || (from_nhwc && fp32));
  return e;
}
void run(const Edge& e, dnnl::stream& s, memory from, memory to) {
  if (!e.reorder) return;  // the primitive works on the layer's tensor itself
  if (!e.nhwc) return e.reorder.execute(s, from, to);
  const void* in = from.get_data_handle();
  void* out = to.get_data_handle();
  if (!e.to_nhwc && !is_bf16(from) && !is_bf16(to))  // fp32 both sides: 8x8 blocks, measured
    return nhwc_to_nchw(static_cast<const float*>(in), static_cast<int>(e.num),
                        static_cast<int>(e.channels), e.plane, nullptr, static_cast<float*>(out));
  const int64_t rows = e.to_nhwc ? e.channels : e.plane, cols = e.to_nhwc ? e.plane : e.channels;
  transpose_planes(in, is_bf16(from), e.num, rows, cols, out, is_bf16(to));
}

// 64-byte aligned bytes that a layer keeps between its forward and backward passes.
struct KeptBuffer {
  void* data = nullptr;
  explicit KeptBuffer(size_t bytes) : data(std::aligned_alloc(64, aligned(bytes))) {
    if (!data) throw std::bad_alloc();
  }
  ~KeptBuffer() { std::free(data); }
  KeptBuffer(const KeptBuffer&) = delete;
  KeptBuffer& operator=(const KeptBuffer&) = delete;
};

// N,H,W,C as oneDNN names it: with 16 channels that is, byte for byte, its blocked nChw16c, the
// layout its bf16 convolutions pick on AVX-512 CPUs, so then the primitive reads and writes the
// layer's tensor itself, with no reorder around it (ResNet-20's first stage: ~4 ms of a 98 ms
// bf16 step, EPYC Zen 4). oneDNN 2.6 asked for nhwc itself runs its reference code, 5x slower.
tag nhwc(int64_t channels) { return channels == 16 ? tag::aBcd16b : tag::nhwc; }
}  // namespace

struct OnednnConv::Plan {
  bool bias = false;
  memory user_x, user_w, user_y, user_dy, user_dx, user_dw, user_b;
  // forward
  dnnl::convolution_forward fwd;
  Slot f_x, f_w, f_y, f_scratch;
  dnnl::reorder f_rw;
  Edge f_rx, f_ry;
  // The forward's bf16 input, kept for dE/dW when both want one layout (else null), and the
  // input it was made from.
  std::unique_ptr<KeptBuffer> kept_x;
  const void* kept_from = nullptr;
  // dE/dx
  dnnl::convolution_backward_data bwd_data;
  Slot d_dy, d_w, d_dx, d_scratch;
  dnnl::reorder d_rw;
  Edge d_rdy, d_rdx;
  // dE/dW
  dnnl::convolution_backward_weights bwd_weights;
  Slot w_x, w_dy, w_dw, w_scratch;
  dnnl::reorder w_rdw;
  Edge w_rx, w_rdy;
  // dE/dW reads the bf16 dE/dy that dE/dx reordered, when both primitives want one layout.
  bool share_dy = false;
  size_t forward_bytes = 0, backward_bytes = 0;
  std::string impl;
};

OnednnConv::OnednnConv() = default;
OnednnConv::~OnednnConv() = default;

bool OnednnConv::available() { return true; }
bool OnednnConv::bf16_without_amx() {
  return dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_bf16;
}

size_t OnednnConv::plan(const ConvGeometry& g, int num_output, int64_t num, bool bias, bool x_bf16,
                        bool y_bf16, bool x_last, bool y_last) {
  auto p = std::make_unique<Plan>();
  p->bias = bias;
  dnnl::engine& eng = cpu_engine();
  const int64_t groups = g.groups;
  const memory::dims src{num, g.channels, g.height, g.width};
  const memory::dims dst{num, num_output, g.out_h(), g.out_w()};
  const memory::dims wei =
      groups == 1
          ? memory::dims{num_output, g.channels, g.kernel_h, g.kernel_w}
          : memory::dims{groups, num_output / groups, g.channels / groups, g.kernel_h, g.kernel_w};
  const tag wei_tag = groups == 1 ? tag::oihw : tag::goihw;
  const memory::dims strides{g.stride_h, g.stride_w};
  const memory::dims dilates{g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts the gaps
  const memory::dims pad{g.pad_h, g.pad_w};
  // Caffe's floor((H + 2P - extent) / S) + 1 is oneDNN's output size with the same padding on
  // both sides (its division floors too).
  const dt x_type = x_bf16 ? dt::bf16 : dt::f32, y_type = y_bf16 ? dt::bf16 : dt::f32;
  const memory::desc user_src(src, x_type, x_last && x_bf16 ? nhwc(g.channels) : tag::nchw),
      user_dst(dst, y_type, y_last && y_bf16 ? nhwc(num_output) : tag::nchw),
      user_wei(wei, dt::f32, wei_tag), user_bias({num_output}, dt::f32, tag::x);
  p->user_x = memory(user_src, eng, DNNL_MEMORY_NONE);
  p->user_dx = memory(user_src, eng, DNNL_MEMORY_NONE);
  p->user_y = memory(user_dst, eng, DNNL_MEMORY_NONE);
  p->user_dy = memory(user_dst, eng, DNNL_MEMORY_NONE);
  p->user_w = memory(user_wei, eng, DNNL_MEMORY_NONE);
  p->user_dw = memory(user_wei, eng, DNNL_MEMORY_NONE);
  p->user_b = memory(user_bias, eng, DNNL_MEMORY_NONE);

  // Results (y, dE/dx) come out in their tensor's type: a bf16 blob gets them rounded by the
  // primitive, and the transpose after it moves half the bytes.
  const memory::desc any_src(src, dt::bf16, tag::any), any_wei(wei, dt::bf16, tag::any),
      any_dst_out(dst, y_type, tag::any), any_dst_bf16(dst, dt::bf16, tag::any),
      any_src_out(src, x_type, tag::any), any_wei_f32(wei, dt::f32, tag::any);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto algo = dnnl::algorithm::convolution_direct;
  auto fd = bias
                ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, any_src,
                                                  any_wei, user_bias, any_dst_out, strides, dilates,
                                                  pad, pad)
                : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, any_src,
                                                  any_wei, any_dst_out, strides, dilates, pad, pad);
  dnnl::convolution_forward::primitive_desc fpd(fd, attr, eng);
  dnnl::convolution_backward_data::primitive_desc dpd(
      dnnl::convolution_backward_data::desc(algo, any_src_out, any_wei, any_dst_bf16, strides,
                                            dilates, pad, pad),
      attr, eng, fpd);
  dnnl::convolution_backward_weights::primitive_desc wpd(
      dnnl::convolution_backward_weights::desc(algo, any_src, any_wei_f32, any_dst_bf16, strides,
                                               dilates, pad, pad),
      attr, eng, fpd);
  p->fwd = dnnl::convolution_forward(fpd);
  p->bwd_data = dnnl::convolution_backward_data(dpd);
  p->bwd_weights = dnnl::convolution_backward_weights(wpd);

  size_t end = 0;
  if (fpd.src_desc() == user_src) {
    p->f_x = place_or_use(fpd.src_desc(), p->user_x, &end);
  } else if (fpd.src_desc() == wpd.src_desc()) {
    p->kept_x = std::make_unique<KeptBuffer>(fpd.src_desc().get_size());
    p->f_x.mem = memory(fpd.src_desc(), eng, p->kept_x->data);
  } else {
    p->f_x = place(fpd.src_desc(), &end);
  }
  p->f_w = place(fpd.weights_desc(), &end);
  p->f_y = place_or_use(fpd.dst_desc(), p->user_y, &end);
  p->f_scratch = place(fpd.scratchpad_desc(), &end);
  p->forward_bytes = end;
  end = 0;
  p->d_dy = place_or_use(dpd.diff_dst_desc(), p->user_dy, &end);
  p->d_w = place(dpd.weights_desc(), &end);
  p->d_dx = place_or_use(dpd.diff_src_desc(), p->user_dx, &end);
  p->d_scratch = place(dpd.scratchpad_desc(), &end);
  p->w_x = place_or_use(wpd.src_desc(), p->user_x, &end);
  p->share_dy = wpd.diff_dst_desc() == dpd.diff_dst_desc();
  p->w_dy = p->share_dy ? p->d_dy : place_or_use(wpd.diff_dst_desc(), p->user_dy, &end);
  p->w_dw = place(wpd.diff_weights_desc(), &end);
  p->w_scratch = place(wpd.scratchpad_desc(), &end);
  p->backward_bytes = end;

  p->f_rx = edge(p->user_x, p->f_x.mem, src, p->f_x.user);
  p->f_rw = dnnl::reorder(p->user_w, p->f_w.mem);
  p->f_ry = edge(p->f_y.mem, p->user_y, dst, p->f_y.user);
  p->d_rdy = edge(p->user_dy, p->d_dy.mem, dst, p->d_dy.user);
  p->d_rw = dnnl::reorder(p->user_w, p->d_w.mem);
  p->d_rdx = edge(p->d_dx.mem, p->user_dx, src, p->d_dx.user);
  p->w_rx = edge(p->user_x, p->w_x.mem, src, p->w_x.user);
  p->w_rdy = edge(p->user_dy, p->w_dy.mem, dst, p->w_dy.user);
  // dE/dW accumulates into the layer's gradient (Caffe's iter_size sums): dw = 1*dw + new.
  dnnl::post_ops sum;
  sum.append_sum(1.f);
  dnnl::primitive_attr accumulate;
  accumulate.set_post_ops(sum);
  p->w_rdw = dnnl::reorder(dnnl::reorder::primitive_desc(p->w_dw.mem, p->user_dw, accumulate));
  p->impl = std::string(fpd.impl_info_str()) + " | " + dpd.impl_info_str() + " | " +
            wpd.impl_info_str();
  const size_t bytes = std::max(p->forward_bytes, p->backward_bytes);
  plan_ = std::move(p);
  return bytes;
}

namespace {
void bind(const memory& m, const void* data) { m.set_data_handle(const_cast<void*>(data)); }
// A slot's buffer: the layer's tensor `own` where the primitive uses it directly, else scratch.
void bind(const Slot& s, void* ws, const void* own = nullptr) {
  s.mem.set_data_handle(s.user ? const_cast<void*>(own) : at(ws, s));
}
}  // namespace

void OnednnConv::forward(const void* x, const float* w, const float* bias, void* y,
                         void* ws) const {
  Plan& p = *plan_;
  dnnl::stream s(cpu_engine());
  bind(p.user_x, x);
  bind(p.user_w, w);
  bind(p.user_y, y);
  for (const Slot* slot : {&p.f_w, &p.f_scratch}) bind(*slot, ws);
  bind(p.f_y, ws, y);
  if (!p.kept_x) bind(p.f_x, ws, x);
  run(p.f_rx, s, p.user_x, p.f_x.mem);
  p.kept_from = p.kept_x ? x : nullptr;
  p.f_rw.execute(s, p.user_w, p.f_w.mem);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.f_x.mem},
                                       {DNNL_ARG_WEIGHTS, p.f_w.mem},
                                       {DNNL_ARG_DST, p.f_y.mem},
                                       {DNNL_ARG_SCRATCHPAD, p.f_scratch.mem}};
  if (p.bias) {
    bind(p.user_b, bias);
    args[DNNL_ARG_BIAS] = p.user_b;
  }
  p.fwd.execute(s, args);
  s.wait();
  run(p.f_ry, s, p.f_y.mem, p.user_y);
}

void OnednnConv::backward(const void* x, const float* w, const void* dy, float* dw, void* dx,
                          void* ws) const {
  Plan& p = *plan_;
  dnnl::stream s(cpu_engine());
  bind(p.user_dy, dy);
  if (dx) {
    bind(p.user_w, w);
    bind(p.user_dx, dx);
    for (const Slot* slot : {&p.d_w, &p.d_scratch}) bind(*slot, ws);
    bind(p.d_dy, ws, dy);
    bind(p.d_dx, ws, dx);
    run(p.d_rdy, s, p.user_dy, p.d_dy.mem);
    p.d_rw.execute(s, p.user_w, p.d_w.mem);
    p.bwd_data.execute(s, {{DNNL_ARG_DIFF_DST, p.d_dy.mem},
                           {DNNL_ARG_WEIGHTS, p.d_w.mem},
                           {DNNL_ARG_DIFF_SRC, p.d_dx.mem},
                           {DNNL_ARG_SCRATCHPAD, p.d_scratch.mem}});
    s.wait();
    run(p.d_rdx, s, p.d_dx.mem, p.user_dx);
  }
  if (dw) {
    bind(p.user_x, x);
    bind(p.user_dw, dw);
    for (const Slot* slot : {&p.w_dw, &p.w_scratch}) bind(*slot, ws);
    bind(p.w_dy, ws, dy);
    // The forward's bf16 x where it made one from this x (the bottom is unchanged between a
    // layer's forward and backward passes in a net), else a conversion now.
    const bool kept = p.kept_x && p.kept_from == x;
    if (kept)
      p.w_x.mem.set_data_handle(p.kept_x->data);
    else
      bind(p.w_x, ws, x);
    if (!kept) run(p.w_rx, s, p.user_x, p.w_x.mem);
    if (!(dx && p.share_dy)) run(p.w_rdy, s, p.user_dy, p.w_dy.mem);
    p.bwd_weights.execute(s, {{DNNL_ARG_SRC, p.w_x.mem},
                              {DNNL_ARG_DIFF_DST, p.w_dy.mem},
                              {DNNL_ARG_DIFF_WEIGHTS, p.w_dw.mem},
                              {DNNL_ARG_SCRATCHPAD, p.w_scratch.mem}});
    p.w_rdw.execute(s, p.w_dw.mem, p.user_dw);
  }
  s.wait();
}

const char* OnednnConv::implementation() const { return plan_ ? plan_->impl.c_str() : ""; }

#else  // built without oneDNN

struct OnednnConv::Plan {};
OnednnConv::OnednnConv() = default;
OnednnConv::~OnednnConv() = default;
bool OnednnConv::available() { return false; }
bool OnednnConv::bf16_without_amx() { return false; }
size_t OnednnConv::plan(const ConvGeometry&, int, int64_t, bool, bool, bool, bool, bool) {
  throw std::runtime_error("this crema was built without oneDNN: no bf16 convolution");
}
void OnednnConv::forward(const void*, const float*, const float*, void*, void*) const {}
void OnednnConv::backward(const void*, const float*, const void*, float*, void*, void*) const {}
const char* OnednnConv::implementation() const { return ""; }
#endif

}  // namespace crema::layers
