// SPDX-License-Identifier: BSD-2-Clause
// conv_winograd_bf16.hpp: the transforms vectorised over 16 channels (crema/layers/vec16.hpp),
// the 16 GEMMs of a chunk as one batched oneDNN matmul. Each thread takes whole chunks through
// all three steps with buffers of its own (a slot), as ConvGemm's chunks do: the chunk's V and M
// stay in that core's L2 cache, and a pass synchronises its threads once instead of three
// times per chunk (oneDNN runs single-threaded inside the slot's thread).
#include "conv_winograd_bf16.hpp"

#if CREMA_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "chunk_slots.hpp"
#include "crema/bf16.hpp"
#include "crema/layer.hpp"
#include "crema/layers/onednn_conv.hpp"
#include "crema/layers/vec16.hpp"
#include "winograd_tiles.hpp"

namespace crema::layers {

#if CREMA_WITH_ONEDNN
namespace {
using winograd::separable;
using Tile = winograd::Tile<2>;
constexpr int kM = 2, kA = 4, kAA = kA * kA;
using vec16::kLanes;
constexpr int64_t kMinOutputs = int64_t{8} * 8, kMinTiles = 256;
constexpr int kMinChannels = 64;
using vec16::Vec;

size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}
}  // namespace

namespace winograd_bf16 {
// The batched GEMMs of a pass: chunks of `chunk` tiles and the remainder (if any), with the
// scratch oneDNN asks for in the workspace (a per-call allocation would fault its pages in on
// every call).
struct Gemms {
  int64_t chunk = 0;
  dnnl::matmul full, last;
  dnnl::memory::desc a_full, b_full, c_full, a_last, b_last, c_last, scratch_full, scratch_last;
  size_t scratch_bytes = 0;
};

// Where a slot's buffers start: slot s at `at + s * bytes`.
struct Slots {
  int count = 1;
  size_t at = 0, bytes = 0;
  char* slot(void* ws, int s) const { return static_cast<char*>(ws) + at + s * bytes; }
};

// One direction of the correlation: ci channels of h x w in, co channels of oh x ow out.
// Workspace: U (bf16 [xi][ci][co]), U in the GEMMs' own blocked layout (reordered once a pass,
// not packed again by every chunk's GEMM), the weights' taps transposed to rows over the outputs
// (transform_weights), and per slot V and M for one chunk and the GEMMs' scratch.
struct Pass {
  int64_t ci = 0, co = 0, h = 0, w = 0, ph = 0, pw = 0, oh = 0, ow = 0, th = 0, tw = 0;
  int64_t tiles = 0;
  Gemms gemms;
  dnnl::memory::desc u;
  dnnl::reorder pack;  // U into gemms.b_full where the GEMMs want another layout
  size_t at_packed = 0, at_taps = 0, bytes = 0;
  Slots slots;
  size_t v = 0, m = 0, scratch = 0;  // offsets within a slot
};

// dE/dW: per chunk dU[xi] += V[xi]^T dM[xi] (ci x co, fp32), one batched matmul adding into the
// slot's dU (`first`, a slot's first chunk, writes it: nothing to zero). Workspace: dE/dW's taps
// over the outputs and transposed back (add_weight_adjoint), then per slot its dU, V and dM for
// one chunk, and the GEMMs' scratch; the slots' dU are summed in slot order, so a thread count
// gives the same sums on every run.
struct WeightPass {
  Gemms gemms, first;
  size_t at_taps = 0, at_rows = 0, bytes = 0;
  Slots slots;
  size_t du = 0, v = 0, dm = 0, scratch = 0;  // offsets within a slot
};
}  // namespace winograd_bf16

struct WinogradBf16::Plan {
  winograd_bf16::Pass fwd, bwd;
  winograd_bf16::WeightPass dw;
  std::vector<uint16_t> zero;  // the padding outside the image: a row of bf16 zeros
};

namespace {
using winograd_bf16::Gemms;
using winograd_bf16::Pass;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// Chunks of tiles whose V and M stay in the L2 cache with the GEMMs' blocks; measured on
// ResNet-50's layers (64-512 channels): 256 tiles below 256 channels, 128 from there.
int64_t chunk_tiles(int64_t channels) { return channels < 256 ? 256 : 128; }

// Chunks of at most chunk_tiles(channels), as many as a multiple of the threads, evened out: a
// thread that takes one chunk more than the others holds them all up (392 tiles in chunks of
// 128 gave two threads 256 and 136). `forced` > 0 is taken as it is (tests).
int64_t balanced_chunk(int64_t tiles, int64_t channels, int threads, int64_t forced) {
  if (forced > 0) return forced;
  const int64_t most = chunk_tiles(channels);
  int64_t chunks = (tiles + most - 1) / most;
  if (chunks > 1 || tiles >= int64_t{threads} * 16)
    chunks = (chunks + threads - 1) / threads * threads;
  return (tiles + chunks - 1) / chunks;
}

// GEMMs C[xi] = A[xi] B[xi] per chunk of t tiles, the operands' descriptors from
// `descs(t, &a, &b, &c)`. A B of format "any" is the first GEMM's pick, and the second takes the
// same (a pass's weights, packed once).
template <class Descs>
Gemms batched_gemms(int64_t tiles, int64_t chunk, dnnl::primitive_attr attr, const Descs& descs) {
  Gemms g;
  g.chunk = std::min(tiles, chunk);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  bool b_any = false;
  auto make = [&](int64_t t, dnnl::memory::desc* a, dnnl::memory::desc* b, dnnl::memory::desc* c,
                  dnnl::memory::desc* scratch) {
    descs(t, a, b, c);
    if (b_any) *b = g.b_full;
    b_any = b->data.format_kind == dnnl_format_kind_any;
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(*a, *b, *c), attr, cpu_engine());
    *b = pd.weights_desc();
    *scratch = pd.scratchpad_desc();
    g.scratch_bytes = std::max(g.scratch_bytes, scratch->get_size());
    return dnnl::matmul(pd);
  };
  g.full = make(g.chunk, &g.a_full, &g.b_full, &g.c_full, &g.scratch_full);
  if (tiles % g.chunk)
    g.last = make(tiles % g.chunk, &g.a_last, &g.b_last, &g.c_last, &g.scratch_last);
  return g;
}

// Runs the chunk's GEMM (full or last) on a, b, c with its scratch.
void run(const Gemms& g, bool full, void* a, void* b, void* c, void* scratch, dnnl::stream& s) {
  auto& eng = cpu_engine();
  (full ? g.full : g.last)
      .execute(s, {{DNNL_ARG_SRC, dnnl::memory(full ? g.a_full : g.a_last, eng, a)},
                   {DNNL_ARG_WEIGHTS, dnnl::memory(full ? g.b_full : g.b_last, eng, b)},
                   {DNNL_ARG_DST, dnnl::memory(full ? g.c_full : g.c_last, eng, c)},
                   {DNNL_ARG_SCRATCHPAD,
                    dnnl::memory(full ? g.scratch_full : g.scratch_last, eng, scratch)}});
  s.wait();
}

Pass make_pass(int64_t ci, int64_t co, int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t oh,
               int64_t ow, int64_t num, int threads, int64_t chunk) {
  Pass p;
  p.ci = ci, p.co = co, p.h = h, p.w = w, p.ph = ph, p.pw = pw, p.oh = oh, p.ow = ow;
  p.th = (oh + kM - 1) / kM, p.tw = (ow + kM - 1) / kM;
  p.tiles = num * p.th * p.tw;
  p.u = dnnl::memory::desc({kAA, ci, co}, dt::bf16, tag::abc);
  p.gemms = batched_gemms(p.tiles, balanced_chunk(p.tiles, std::max(ci, co), threads, chunk), {},
                          [&](int64_t t, auto* a, auto* b, auto* c) {
                            *a = dnnl::memory::desc({kAA, t, ci}, dt::bf16, tag::abc);
                            *b = dnnl::memory::desc({kAA, ci, co}, dt::bf16, tag::any);
                            *c = dnnl::memory::desc({kAA, t, co}, dt::f32, tag::abc);
                          });
  size_t end = aligned(p.u.get_size());
  if (p.gemms.b_full != p.u) {
    p.pack = dnnl::reorder(dnnl::memory(p.u, cpu_engine(), DNNL_MEMORY_NONE),
                           dnnl::memory(p.gemms.b_full, cpu_engine(), DNNL_MEMORY_NONE));
    p.at_packed = end;
    end += aligned(p.gemms.b_full.get_size());
  }
  p.at_taps = end;
  end += aligned(9 * ci * co * sizeof(float));
  p.v = 0, p.m = aligned(kAA * p.gemms.chunk * ci * sizeof(uint16_t));
  p.scratch = p.m + aligned(kAA * p.gemms.chunk * co * sizeof(float));
  p.slots = {slot_count(p.tiles, p.gemms.chunk, threads), end,
             p.scratch + aligned(p.gemms.scratch_bytes)};
  p.bytes = end + p.slots.count * p.slots.bytes;
  return p;
}

// dE/dW's chunks: as the other passes' (deeper ones, the whole batch up to 16 MB of V and dM,
// measured 10-20% slower on ResNet-50's 28 x 28 and 14 x 14 layers).
winograd_bf16::WeightPass make_weight_pass(const Pass& f, int threads, int64_t chunk) {
  winograd_bf16::WeightPass p;
  chunk = balanced_chunk(f.tiles, std::max(f.ci, f.co), threads, chunk);
  dnnl::post_ops sum;  // dU += each chunk's products
  sum.append_sum(1.f);
  dnnl::primitive_attr accumulate;
  accumulate.set_post_ops(sum);
  // dU[xi] (ci x co) += V[xi]^T (ci x t) dM[xi] (t x co); V is stored [xi][t][ci] ("acb").
  auto descs = [&](int64_t t, auto* a, auto* b, auto* c) {
    *a = dnnl::memory::desc({kAA, f.ci, t}, dt::bf16, tag::acb);
    *b = dnnl::memory::desc({kAA, t, f.co}, dt::bf16, tag::abc);
    *c = dnnl::memory::desc({kAA, f.ci, f.co}, dt::f32, tag::abc);
  };
  p.gemms = batched_gemms(f.tiles, chunk, accumulate, descs);
  p.first = batched_gemms(f.tiles, chunk, {}, descs);
  p.gemms.scratch_bytes = std::max(p.gemms.scratch_bytes, p.first.scratch_bytes);
  const size_t taps = aligned(9 * f.ci * f.co * sizeof(float));
  p.at_taps = 0, p.at_rows = taps;
  p.du = 0, p.v = aligned(kAA * f.ci * f.co * sizeof(float));
  p.dm = p.v + aligned(kAA * p.gemms.chunk * f.ci * sizeof(uint16_t));
  p.scratch = p.dm + aligned(kAA * p.gemms.chunk * f.co * sizeof(uint16_t));
  p.slots = {slot_count(f.tiles, p.gemms.chunk, threads), 2 * taps,
             p.scratch + aligned(p.gemms.scratch_bytes)};
  p.bytes = p.slots.at + p.slots.count * p.slots.bytes;
  return p;
}

// U[xi][i][o] = (G g G^T)[xi] rounded to bf16, g the 3x3 kernel from input channel i to output
// o, whose tap k (= r*3 + s) for outputs o.. is at `row(i, k) + o`: the weights' taps transposed
// first into rows over the outputs (one blocked transpose: gathering each tap across Caffe's
// O,C,3,3 rows instead took 2.6-3.5 ms of a 512 x 512 layer's pass), then 16 outputs at a time.
template <class Row>
void transform_weights(const Pass& p, const Row& row, uint16_t* u) {
  const int64_t plane = p.ci * p.co;
  crema::parallel_for(p.ci, 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t o = 0; o < p.co; o += kLanes) {
        Vec g[3][3], r[kA][kA];
        for (int k = 0; k < 9; ++k) g[k / 3][k % 3] = vec16::load(row(i, k) + o);
        separable(g, r, [](const Vec(&in)[3], Vec(&out)[kA]) { Tile::weight(in, out); });
        for (int xi = 0; xi < kAA; ++xi)
          vec16::store(u + xi * plane + i * p.co + o, r[xi / kA][xi % kA]);
      }
  });
}

// The tile's image and position.
struct TileAt {
  int64_t n, y0, x0;
};
TileAt tile_at(const Pass& p, int64_t t) {
  const int64_t per_image = p.th * p.tw, r = t % per_image;
  return {t / per_image, kM * (r / p.tw), kM * (r % p.tw)};
}

// V[xi][tt][c] = (B^T d B)[xi] rounded to bf16, d the 4x4 patch of tile t0 + tt.
void input_transform(const Pass& p, const uint16_t* in, int64_t t0, int64_t tn,
                     const uint16_t* zero, uint16_t* v) {
  for (int64_t tt = 0; tt < tn; ++tt) {
    const TileAt at = tile_at(p, t0 + tt);
    const uint16_t* patch[kA][kA];
    for (int i = 0; i < kA; ++i) {
      const int64_t ih = at.y0 - p.ph + i;
      for (int j = 0; j < kA; ++j) {
        const int64_t iw = at.x0 - p.pw + j;
        patch[i][j] = ih >= 0 && ih < p.h && iw >= 0 && iw < p.w
                          ? in + ((at.n * p.h + ih) * p.w + iw) * p.ci
                          : zero;
      }
    }
    for (int64_t c = 0; c < p.ci; c += kLanes) {
      Vec d[kA][kA], r[kA][kA];
      for (int i = 0; i < kA; ++i)
        for (int j = 0; j < kA; ++j) d[i][j] = vec16::load(patch[i][j] + c);
      separable(d, r, [](const Vec(&x)[kA], Vec(&o)[kA]) { Tile::input(x, o); });
      for (int xi = 0; xi < kAA; ++xi)
        vec16::store(v + (xi * tn + tt) * p.ci + c, r[xi / kA][xi % kA]);
    }
  }
}

// The 2x2 outputs of tile t0 + tt: (A^T M A) (+ bias) rounded into out, clipped at the edges.
void output_transform(const Pass& p, const float* m, const float* bias, int64_t t0, int64_t tn,
                      uint16_t* out) {
  for (int64_t tt = 0; tt < tn; ++tt) {
    const TileAt at = tile_at(p, t0 + tt);
    for (int64_t o = 0; o < p.co; o += kLanes) {
      Vec mt[kA][kA], y[kM][kM];
      for (int xi = 0; xi < kAA; ++xi)
        mt[xi / kA][xi % kA] = vec16::load(m + (xi * tn + tt) * p.co + o);
      separable(mt, y, [](const Vec(&x)[kA], Vec(&r)[kM]) { Tile::output(x, r); });
      const Vec add = bias ? vec16::load(bias + o) : Vec{};
      for (int i = 0; i < kM; ++i)
        for (int j = 0; j < kM; ++j)
          if (at.y0 + i < p.oh && at.x0 + j < p.ow)
            vec16::store(out + ((at.n * p.oh + at.y0 + i) * p.ow + at.x0 + j) * p.co + o,
                         y[i][j] + add);
    }
  }
}

// dM[xi][tt][o] = (A dY A^T)[xi] rounded to bf16, dY the 2x2 block of dy at tile t0 + tt (zero
// past the output's edges): the adjoint of output_transform.
void output_adjoint(const Pass& p, const uint16_t* dy, int64_t t0, int64_t tn, const uint16_t* zero,
                    uint16_t* dm) {
  for (int64_t tt = 0; tt < tn; ++tt) {
    const TileAt at = tile_at(p, t0 + tt);
    const uint16_t* block[kM][kM];
    for (int i = 0; i < kM; ++i)
      for (int j = 0; j < kM; ++j)
        block[i][j] = at.y0 + i < p.oh && at.x0 + j < p.ow
                          ? dy + ((at.n * p.oh + at.y0 + i) * p.ow + at.x0 + j) * p.co
                          : zero;
    for (int64_t o = 0; o < p.co; o += kLanes) {
      Vec d[kM][kM], r[kA][kA];
      for (int i = 0; i < kM; ++i)
        for (int j = 0; j < kM; ++j) d[i][j] = vec16::load(block[i][j] + o);
      separable(d, r, [](const Vec(&x)[kM], Vec(&out)[kA]) { Tile::output_adjoint(x, out); });
      for (int xi = 0; xi < kAA; ++xi)
        vec16::store(dm + (xi * tn + tt) * p.co + o, r[xi / kA][xi % kA]);
    }
  }
}

// Slot s's dU of the weight pass w.
float* slot_du(const winograd_bf16::WeightPass& w, void* ws, int s) {
  return reinterpret_cast<float*>(w.slots.slot(ws, s) + w.du);
}

// dw[o][c][k] += (G^T dU[.][c][o] G)[k], dU the sum of the slots' (in slot order): vectorised over
// 16 outputs (dU is o-contiguous) into taps[c][k][o], transposed into rows[o][c][k] (Caffe's
// O,C,3,3), and added.
void add_weight_adjoint(const Pass& p, const winograd_bf16::WeightPass& w, void* ws, float* dw) {
  const int64_t plane = p.ci * p.co;
  auto* taps = reinterpret_cast<float*>(static_cast<char*>(ws) + w.at_taps);
  auto* rows = reinterpret_cast<float*>(static_cast<char*>(ws) + w.at_rows);
  crema::parallel_for(p.ci, 4, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      for (int64_t o = 0; o < p.co; o += kLanes) {
        Vec d[kA][kA], r[3][3];
        for (int xi = 0; xi < kAA; ++xi) {
          const int64_t at = xi * plane + c * p.co + o;
          Vec sum = vec16::load(slot_du(w, ws, 0) + at);
          for (int s = 1; s < w.slots.count; ++s) sum = sum + vec16::load(slot_du(w, ws, s) + at);
          d[xi / kA][xi % kA] = sum;
        }
        separable(d, r, [](const Vec(&x)[kA], Vec(&out)[3]) { Tile::weight_adjoint(x, out); });
        for (int k = 0; k < 9; ++k)
          std::memcpy(taps + (c * 9 + k) * p.co + o, &r[k / 3][k % 3], sizeof(Vec));
      }
  });
  nhwc_to_nchw(taps, 1, static_cast<int>(p.co), 9 * p.ci, nullptr, rows);
  crema::parallel_for(9 * plane, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dw[i] += rows[i];
  });
}

// out = the 3x3 correlation of in through U (at the workspace's start), chunk by chunk.
void convolve(const Pass& p, const uint16_t* in, const float* bias, const uint16_t* zero,
              uint16_t* out, void* ws) {
  void* u = ws;
  if (p.pack) {
    u = static_cast<char*>(ws) + p.at_packed;
    dnnl::stream s(cpu_engine());
    dnnl::memory plain(p.u, cpu_engine(), ws), packed(p.gemms.b_full, cpu_engine(), u);
    p.pack.execute(s, plain, packed);
    s.wait();
  }
  for_each_chunk(p.tiles, p.gemms.chunk, p.slots.count, [&](int slot, int64_t t0, int64_t tn) {
    char* mine = p.slots.slot(ws, slot);
    auto* v = reinterpret_cast<uint16_t*>(mine + p.v);
    auto* m = reinterpret_cast<float*>(mine + p.m);
    dnnl::stream s(cpu_engine());
    input_transform(p, in, t0, tn, zero, v);
    run(p.gemms, tn == p.gemms.chunk, v, u, m, mine + p.scratch, s);
    output_transform(p, m, bias, t0, tn, out);
  });
}
}  // namespace

WinogradBf16::WinogradBf16() = default;
WinogradBf16::~WinogradBf16() = default;

bool WinogradBf16::applies(const ConvGeometry& g, int num_output, int64_t num) {
  if (g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 || g.stride_w != 1 ||
      g.dilation_h != 1 || g.dilation_w != 1 || g.groups != 1)
    return false;
  if (g.pad_h < 0 || g.pad_h > 2 || g.pad_w < 0 || g.pad_w > 2) return false;
  if (g.channels % kLanes != 0 || num_output % kLanes != 0) return false;
  if (!crema::bf16_stores_fast()) return false;  // AVX512_BF16
  if (const char* env = std::getenv("CREMA_CONV_WINOGRAD_BF16")) return std::string(env) == "1";
  // Measured against oneDNN's direct convolution, each pass, 1 and 2 threads: ResNet-50's
  // layers (batch 8) of 14 x 14 outputs and more (392 tiles and more) 15-35% faster, the 7 x 7
  // ones (128 tiles, a quarter of them half empty) slower at 2 threads; ResNet-20's 8 x 8 x 64
  // layers (batch 64, 1024 tiles) about 30% faster. On ResNet-20's 16 channels slower (dE/dW
  // 2x) and 32 no faster: GEMMs that short do not reach the bf16 rate.
  const int64_t tiles = num * ((g.out_h() + kM - 1) / kM) * ((g.out_w() + kM - 1) / kM);
  if (int64_t{g.out_h()} * g.out_w() < kMinOutputs || tiles < kMinTiles) return false;
  if (g.channels < kMinChannels || num_output < kMinChannels) return false;
  // Not on AMX, whose direct convolution is several times faster than these GEMMs.
  return OnednnConv::bf16_without_amx();
}

size_t WinogradBf16::plan(const ConvGeometry& g, int num_output, int64_t num, int threads,
                          int64_t chunk_tiles) {
  auto p = std::make_unique<Plan>();
  p->fwd = make_pass(g.channels, num_output, g.height, g.width, g.pad_h, g.pad_w, g.out_h(),
                     g.out_w(), num, threads, chunk_tiles);
  // dE/dx: dy (out_h x out_w, num_output channels) correlated with the rotated kernel, pad 2 - p.
  p->bwd = make_pass(num_output, g.channels, g.out_h(), g.out_w(), 2 - g.pad_h, 2 - g.pad_w,
                     g.height, g.width, num, threads, chunk_tiles);
  p->dw = make_weight_pass(p->fwd, threads, chunk_tiles);
  p->zero.assign(static_cast<size_t>(std::max(g.channels, num_output)), 0);
  const size_t bytes = std::max({p->fwd.bytes, p->bwd.bytes, p->dw.bytes});
  plan_ = std::move(p);
  return bytes;
}

void WinogradBf16::forward(const uint16_t* x, const float* w, const float* bias, uint16_t* y,
                           void* ws) const {
  const Pass& p = plan_->fwd;
  // taps[i][k][o] = W[o][i][k]: Caffe's [O][C*9] transposed.
  auto* taps = reinterpret_cast<float*>(static_cast<char*>(ws) + p.at_taps);
  nchw_to_nhwc(w, 1, static_cast<int>(p.co), 9 * p.ci, taps);
  transform_weights(
      p, [&](int64_t i, int k) { return taps + (i * 9 + k) * p.co; }, static_cast<uint16_t*>(ws));
  convolve(p, x, bias, plan_->zero.data(), y, ws);
}

void WinogradBf16::backward_data(const float* w, const uint16_t* dy, uint16_t* dx, void* ws) const {
  const Pass& p = plan_->bwd;  // from dy's channels o (the layer's outputs) to dx's c
  // taps[o][k][c] = W[o][c][k] (each output's [C][9] transposed); the kernel is rotated:
  // W'[c][o][k] = W[o][c][8 - k].
  auto* taps = reinterpret_cast<float*>(static_cast<char*>(ws) + p.at_taps);
  nchw_to_nhwc(w, static_cast<int>(p.ci), static_cast<int>(p.co), 9, taps);
  transform_weights(
      p, [&](int64_t o, int k) { return taps + (o * 9 + 8 - k) * p.co; },
      static_cast<uint16_t*>(ws));
  convolve(p, dy, nullptr, plan_->zero.data(), dx, ws);
}

void WinogradBf16::backward_weights(const uint16_t* x, const uint16_t* dy, float* dw,
                                    void* ws) const {
  const Pass& f = plan_->fwd;
  const winograd_bf16::WeightPass& p = plan_->dw;
  for_each_chunk(f.tiles, p.gemms.chunk, p.slots.count, [&](int slot, int64_t t0, int64_t tn) {
    char* mine = p.slots.slot(ws, slot);
    auto* v = reinterpret_cast<uint16_t*>(mine + p.v);
    auto* dm = reinterpret_cast<uint16_t*>(mine + p.dm);
    dnnl::stream s(cpu_engine());
    input_transform(f, x, t0, tn, plan_->zero.data(), v);
    output_adjoint(f, dy, t0, tn, plan_->zero.data(), dm);
    const bool first = t0 / p.gemms.chunk < p.slots.count;  // chunk k runs on slot k % slots
    run(first ? p.first : p.gemms, tn == p.gemms.chunk, v, dm, mine + p.du, mine + p.scratch, s);
  });
  add_weight_adjoint(f, p, ws, dw);
}

#else  // without oneDNN: never applies

struct WinogradBf16::Plan {};
WinogradBf16::WinogradBf16() = default;
WinogradBf16::~WinogradBf16() = default;
bool WinogradBf16::applies(const ConvGeometry&, int, int64_t) { return false; }
size_t WinogradBf16::plan(const ConvGeometry&, int, int64_t, int, int64_t) { return 0; }
void WinogradBf16::forward(const uint16_t*, const float*, const float*, uint16_t*, void*) const {}
void WinogradBf16::backward_data(const float*, const uint16_t*, uint16_t*, void*) const {}
void WinogradBf16::backward_weights(const uint16_t*, const uint16_t*, float*, void*) const {}

#endif

}  // namespace crema::layers
