// SPDX-License-Identifier: BSD-2-Clause
// DummyData (Caffe's DummyDataLayer): tops of given shapes filled by a filler, no bottoms.
//   shapes: dummy_data_param.shape (one for all tops, or one per top), or the legacy 4-d
//           num/channels/height/width (each given once, or once per top);
//   fillers: data_filler (none: constant 0; one: for every top; or one per top) of type
//           constant (value), uniform (U[min, max]) or gaussian (N(mean, std^2)).
// As in Caffe, a top with a constant filler is written once (first forward after a reshape),
// the others are refilled on every forward. Random values come from (rng_seed, rng_counter,
// top, chunk), so they do not depend on the number of threads.
// CUDA: constants by a fill kernel (dummy_data.cu). Random tops are drawn on the host exactly as
// on the CPU path (so both devices give the same numbers for a seed and counter) into a host
// buffer the layer owns, then copied with cudaMemcpyAsync on the stream. A device generator
// would be faster but would change the numbers; DummyData exists for tests and benchmarks,
// where reproducibility across devices matters more. The buffer is refilled only after the
// previous copy has passed (an event), so the asynchronous copy never reads half-new values.
// Reference: Caffe, src/caffe/layers/dummy_data_layer.cpp.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "crema/cuda.hpp"
#include "dummy_data_cuda.h"
#endif

class DummyData final : public crema::Layer<DummyData> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"DummyData", "dummy_data_param"};
    i.min_bottoms = i.max_bottoms = 0;
    i.min_tops = 1;
    i.max_tops = -1;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }

  explicit DummyData(const crema::Params& p) {
    const std::string P = "dummy_data_param.";
    for (int i = 0; i < p.size(P + "data_filler"); ++i) {
      const std::string f = P + "data_filler[" + std::to_string(i) + "].";
      Filler fl{p.get<std::string>(f + "type"), p.get<float>(f + "value"), p.get<float>(f + "min"),
                p.get<float>(f + "max"),        p.get<float>(f + "mean"),  p.get<float>(f + "std")};
      CREMA_CHECK(fl.type == "constant" || fl.type == "uniform" || fl.type == "gaussian",
                  "DummyData fills with constant, uniform or gaussian, not '" << fl.type << "'");
      CREMA_CHECK(fl.type != "gaussian" || p.get<int>(f + "sparse") < 0,
                  "DummyData does not support the sparse gaussian filler");
      CREMA_CHECK(fl.type != "uniform" || fl.min <= fl.max,
                  "uniform filler with min " << fl.min << " > max " << fl.max);
      CREMA_CHECK(fl.type != "gaussian" || fl.std > 0, "gaussian filler with std " << fl.std);
      fillers_.push_back(fl);
    }
    if (fillers_.empty()) fillers_.push_back(Filler{"constant", 0.f, 0.f, 1.f, 0.f, 1.f});
    const char* legacy[4] = {"num", "channels", "height", "width"};
    bool any_legacy = false;
    for (const char* f : legacy) any_legacy = any_legacy || p.size(P + f) > 0;
    if (any_legacy) {
      CREMA_CHECK(p.size(P + "shape") == 0, "give shape or num/channels/height/width, not both");
      int n = 1;
      for (const char* f : legacy) n = std::max(n, p.size(P + f));
      for (const char* f : legacy)
        CREMA_CHECK(p.size(P + f) == 1 || p.size(P + f) == n,
                    "'" << f << "' is given " << p.size(P + f) << " times; give it once, or once "
                        << "per top like the others (" << n << ")");
      for (int t = 0; t < n; ++t) {
        crema::Shape s;
        for (const char* f : legacy) s.push_back(p.get<int64_t>(P + f, p.size(P + f) == 1 ? 0 : t));
        shapes_.push_back(s);
      }
    } else {
      for (int i = 0; i < p.size(P + "shape"); ++i) {
        const std::string d = P + "shape[" + std::to_string(i) + "].dim";
        crema::Shape s;
        for (int k = 0; k < p.size(d); ++k) s.push_back(p.get<int64_t>(d, k));
        shapes_.push_back(s);
      }
    }
  }

  void reshape(crema::Context& c) {
    const int tops = c.num_top(), nf = static_cast<int>(fillers_.size()),
              ns = static_cast<int>(shapes_.size());
    CREMA_CHECK(nf == 1 || nf == tops, "DummyData has " << tops << " tops but " << nf
                                                        << " data fillers: give 0, 1 or " << tops);
    CREMA_CHECK(ns == 1 || ns == tops,
                "DummyData has " << tops << " tops but " << ns << " shapes: give 1 or " << tops);
    for (int t = 0; t < tops; ++t) {
      const crema::Shape& s = shapes_[ns == 1 ? 0 : t];
      for (int64_t d : s)
        CREMA_CHECK(d >= 0, "shape " << crema::shape_string(s) << " has a negative dimension");
      c.top(t).set_shape(s);
    }
    constants_pending_ = true;
  }

  void forward_cpu(crema::Context& c) {
    for (int t = 0; t < c.num_top(); ++t) {
      const Filler& f = filler(t);
      if (f.type == "constant" && !constants_pending_) continue;
      fill(f, c.top(t).data(), c.top(t).count(), mix(c.rng_seed(), c.rng_counter(), t));
    }
    constants_pending_ = false;
  }
  void backward_cpu(crema::Context&) {}  // no bottoms

#if CREMA_WITH_CUDA
  ~DummyData() override {
    if (copied_) {
      cudaEventSynchronize(copied_);  // the last copy may still read staging_
      cudaEventDestroy(copied_);
    }
  }

  void forward_cuda(crema::Context& c) {
    const cudaStream_t stream = crema::cuda::stream(c.cuda_stream());
    int64_t random = 0;
    for (int t = 0; t < c.num_top(); ++t)
      if (filler(t).type != "constant") random += c.top(t).count();
    if (random > 0) {
      if (copied_) crema::cuda::check(cudaEventSynchronize(copied_), "DummyData (wait for copy)");
      staging_.resize(random);
    }
    int64_t offset = 0;
    for (int t = 0; t < c.num_top(); ++t) {
      const Filler& f = filler(t);
      const int64_t n = c.top(t).count();
      if (n == 0) continue;
      if (f.type == "constant") {
        if (constants_pending_) dummy_data_fill_cuda(c.cuda_stream(), n, f.value, c.top(t).data());
        continue;
      }
      float* host = staging_.data() + offset;
      offset += n;
      fill(f, host, n, mix(c.rng_seed(), c.rng_counter(), t));
      crema::cuda::check(
          cudaMemcpyAsync(c.top(t).data(), host, sizeof(float) * n, cudaMemcpyHostToDevice, stream),
          "DummyData (copy to device)");
    }
    if (offset > 0) {
      if (!copied_)
        crema::cuda::check(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming),
                           "DummyData (event)");
      crema::cuda::check(cudaEventRecord(copied_, stream), "DummyData (event)");
    }
    constants_pending_ = false;
  }
  void backward_cuda(crema::Context&) {}  // no bottoms
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'DummyData' dummy_data_param { shape { dim: 2 dim: 3 } "
             "data_filler { type: 'gaussian' std: 2 } }",
             ""},
            {"type: 'DummyData' dummy_data_param { num: 2 channels: 3 height: 1 width: 4 "
             "data_filler { type: 'uniform' } } top: 'a' top: 'b'",
             ""},
            {"type: 'DummyData' dummy_data_param { shape { dim: 3 dim: 5 } "
             "data_filler { type: 'constant' value: 2 } }",
             ""}};
  }

 private:
  struct Filler {
    std::string type;
    float value, min, max, mean, std;
  };
  static constexpr int64_t kChunk = 4096;

  const Filler& filler(int top) const { return fillers_[fillers_.size() == 1 ? 0 : top]; }

  // One well-spread seed from three words: odd multiples of each, then SplitMix64's output.
  static uint64_t mix(uint64_t a, uint64_t b, uint64_t c) {
    return crema_splitmix64(a * CREMA_SPLITMIX64_GAMMA ^
                            (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull ^
                            (c + 1) * 0x94D049BB133111EBull);
  }
  static void fill(const Filler& f, float* x, int64_t n, uint64_t seed) {
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    crema::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t ch = b; ch < e; ++ch) {
        float* y = x + ch * kChunk;
        const int64_t m = std::min(kChunk, n - ch * kChunk);
        std::mt19937_64 rng(mix(seed, static_cast<uint64_t>(ch), 0));
        if (f.type == "constant") {
          for (int64_t i = 0; i < m; ++i) y[i] = f.value;
        } else if (f.type == "uniform") {
          std::uniform_real_distribution<float> d(f.min, f.max);
          for (int64_t i = 0; i < m; ++i) y[i] = d(rng);
        } else {
          std::normal_distribution<float> d(f.mean, f.std);
          for (int64_t i = 0; i < m; ++i) y[i] = d(rng);
        }
      }
    });
  }

  std::vector<Filler> fillers_;
  std::vector<crema::Shape> shapes_;
  bool constants_pending_ = true;
#if CREMA_WITH_CUDA
  std::vector<float> staging_;    // random tops drawn on the host, read by the pending copies
  cudaEvent_t copied_ = nullptr;  // recorded after the last copy from staging_
#endif
};

CREMA_EXPORT_PLUGIN("dummy_data", "1.0.0", DummyData)
