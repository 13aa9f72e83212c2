// SPDX-License-Identifier: BSD-2-Clause
// Slice (Caffe's SliceLayer): cuts the bottom along one axis (slice_param.axis, or the legacy
// non-negative slice_dim) into the tops, at slice_point (one fewer than the tops, increasing)
// or, without slice points, into equal parts. Viewing the bottom as (outer, A, inner) and top t
// as (outer, A_t, inner):
//   y_t[n, a, j] = x[n, off_t + a, j],  off_t = A_0 + ... + A_{t-1}
//   dE/dx[n, off_t + a, j] = dE/dy_t[n, a, j]
// CREMA_LAYER_SHARES_DATA: when one top takes the whole bottom the host may let it use the
// bottom's memory; that copy is then skipped. CUDA: the same copies as strided device copies
// (slice.cu), one per top. Reference: Caffe, src/caffe/layers/slice_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "slice_cuda.h"
#endif

class Slice final : public crema::Layer<Slice> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Slice", "slice_param"};
    i.max_tops = -1;
    i.flags = CREMA_LAYER_SHARES_DATA;
    return i;
  }
  explicit Slice(const crema::Params& p)
      : axis_(p.get<int>("slice_param.axis")),
        has_dim_(p.has("slice_param.slice_dim")),
        dim_(p.get<int64_t>("slice_param.slice_dim")) {
    CREMA_CHECK(!(has_dim_ && p.has("slice_param.axis")),
                "give slice_param axis or slice_dim, not both");
    for (int i = 0; i < p.size("slice_param.slice_point"); ++i)
      points_.push_back(p.get<int64_t>("slice_param.slice_point", i));
  }

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const crema::Shape s = x.shape();
    CREMA_CHECK(x.ndim() > 0, "cannot slice a 0-d bottom");
    if (has_dim_) {
      CREMA_CHECK(dim_ < x.ndim(),
                  "slice_dim " << dim_ << " is out of range for bottom " << crema::shape_string(s));
      axis_index_ = static_cast<int>(dim_);
    } else {
      axis_index_ = x.canonical_axis(axis_);
    }
    const int tops = c.num_top();
    const int64_t size = s[axis_index_];
    sizes_.clear();
    if (!points_.empty()) {
      CREMA_CHECK(static_cast<int>(points_.size()) == tops - 1,
                  points_.size() << " slice_point(s) for " << tops << " tops: give " << tops - 1);
      int64_t prev = 0;
      for (int64_t p : points_) {
        CREMA_CHECK(p > prev && p <= size, "slice_point " << p << " must be in (" << prev << ", "
                                                          << size << "]: axis " << axis_index_
                                                          << " of bottom " << crema::shape_string(s)
                                                          << " has size " << size);
        sizes_.push_back(p - prev), prev = p;
      }
      sizes_.push_back(size - prev);
    } else {
      CREMA_CHECK(size % tops == 0, tops << " tops do not divide axis " << axis_index_
                                         << " of size " << size << " of bottom "
                                         << crema::shape_string(s) << " evenly: give slice_point");
      sizes_.assign(tops, size / tops);
    }
    for (int t = 0; t < tops; ++t) {
      crema::Shape out = s;
      out[axis_index_] = sizes_[t];
      c.top(t).set_shape(out);
    }
    outer_ = x.count(0, axis_index_);
    inner_ = x.count(axis_index_ + 1);
  }

  void forward_cpu(crema::Context& c) { move(c, /*forward=*/true); }
  void backward_cpu(crema::Context& c) {
    // dE/dx is the tops' diffs put back where their data came from.
    if (c.propagate_down(0)) move(c, /*forward=*/false);
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) { move_cuda(c, /*forward=*/true); }
  void backward_cuda(crema::Context& c) {
    if (c.propagate_down(0)) move_cuda(c, /*forward=*/false);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Slice' top: 'a' top: 'b'", "2,6,3"},
            {"type: 'Slice' slice_param { axis: 0 slice_point: 1 slice_point: 3 } top: 'a' top: "
             "'b' top: 'c'",
             "5,3,2"},
            {"type: 'Slice' slice_param { axis: -1 slice_point: 2 } top: 'a' top: 'b'", "2,3"}};
  }

 private:
  // Forward copies the bottom's data into the tops; backward the tops' diffs into the bottom.
  void move(crema::Context& c, bool forward) {
    const int tops = c.num_top();
    const int64_t bottom_rows = c.bottom(0).dim(axis_index_) * inner_;
    float* x = forward ? c.bottom(0).data() : c.bottom(0).diff();
    std::vector<float*> ptr(tops, nullptr);
    std::vector<int64_t> rows(tops), offset(tops);
    int64_t off = 0;
    for (int t = 0; t < tops; ++t) {
      rows[t] = sizes_[t] * inner_, offset[t] = off, off += rows[t];
      float* tp = forward ? c.top(t).data() : c.top(t).diff();
      if (rows[t] > 0 && tp != x) ptr[t] = tp;
    }
    auto task = [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int t = 0; t < tops; ++t) {
          if (!ptr[t]) continue;
          float* xp = x + n * bottom_rows + offset[t];
          float* tp = ptr[t] + n * rows[t];
          if (forward)
            std::memcpy(tp, xp, sizeof(float) * rows[t]);
          else
            std::memcpy(xp, tp, sizeof(float) * rows[t]);
        }
    };
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, bottom_rows));
    crema::parallel_for(outer_, grain, task);
  }

#if CREMA_WITH_CUDA
  // move() on the GPU: top t is an (outer, rows_t) block at column offset_t of the bottom's
  // (outer, bottom_rows).
  void move_cuda(crema::Context& c, bool forward) {
    const int64_t bottom_rows = c.bottom(0).dim(axis_index_) * inner_;
    float* x = forward ? c.bottom(0).data() : c.bottom(0).diff();
    int64_t offset = 0;
    for (int t = 0; t < c.num_top(); ++t) {
      const int64_t rows = sizes_[t] * inner_;
      const int64_t off = offset;
      offset += rows;
      float* tp = forward ? c.top(t).data() : c.top(t).diff();
      if (rows == 0 || tp == x) continue;  // tp == x: one top sharing the bottom's memory
      if (forward)
        slice_copy_rows_cuda(c.cuda_stream(), outer_, rows, x + off, bottom_rows, tp, rows);
      else
        slice_copy_rows_cuda(c.cuda_stream(), outer_, rows, tp, rows, x + off, bottom_rows);
    }
  }
#endif

  int axis_;
  bool has_dim_;
  int64_t dim_;
  std::vector<int64_t> points_, sizes_;
  int axis_index_ = 1;
  int64_t outer_ = 0, inner_ = 0;
};

CREMA_EXPORT_PLUGIN("slice", "1.0.0", Slice)
