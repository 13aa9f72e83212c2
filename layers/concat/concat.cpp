// SPDX-License-Identifier: BSD-2-Clause
// Concat (Caffe's ConcatLayer): joins the bottoms along one axis (concat_param.axis, or the
// legacy non-negative concat_dim). All other axes must agree. Viewing each bottom i as
// (outer, A_i, inner) and the top as (outer, sum_i A_i, inner):
//   y[n, off_i + a, j] = x_i[n, a, j],  off_i = A_0 + ... + A_{i-1}
//   dE/dx_i[n, a, j] = dE/dy[n, off_i + a, j]
// CREMA_LAYER_SHARES_DATA: with a single (non-empty) bottom the host may let the top use its
// memory; the copies are then skipped. CUDA: the same copies as strided device copies
// (concat.cu), one per bottom. Reference: Caffe, src/caffe/layers/concat_layer.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "concat_cuda.h"
#endif

class Concat final : public crema::Layer<Concat> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Concat", "concat_param"};
    i.max_bottoms = -1;
    i.flags = CREMA_LAYER_SHARES_DATA;
    return i;
  }
  explicit Concat(const crema::Params& p)
      : axis_(p.get<int>("concat_param.axis")),
        has_dim_(p.has("concat_param.concat_dim")),
        dim_(p.get<int64_t>("concat_param.concat_dim")) {
    CREMA_CHECK(!(has_dim_ && p.has("concat_param.axis")),
                "give concat_param axis or concat_dim, not both");
  }

  void reshape(crema::Context& c) {
    const crema::TensorView b0 = c.bottom(0);
    const crema::Shape s0 = b0.shape();
    CREMA_CHECK(b0.ndim() > 0, "cannot concatenate 0-d bottoms");
    if (has_dim_) {
      CREMA_CHECK(dim_ < b0.ndim(), "concat_dim " << dim_ << " is out of range for bottom 0 "
                                                  << crema::shape_string(s0));
      axis_index_ = static_cast<int>(dim_);
    } else {
      axis_index_ = b0.canonical_axis(axis_);
    }
    crema::Shape out = s0;
    for (int i = 1; i < c.num_bottom(); ++i) {
      const crema::Shape si = c.bottom(i).shape();
      bool same = si.size() == s0.size();
      for (size_t k = 0; same && k < si.size(); ++k) same = int(k) == axis_index_ || si[k] == s0[k];
      CREMA_CHECK(same, "bottom " << i << " has shape " << crema::shape_string(si)
                                  << " but bottom 0 has " << crema::shape_string(s0)
                                  << ": all axes but the concat axis " << axis_index_
                                  << " must match");
      out[axis_index_] += si[axis_index_];
    }
    c.top(0).set_shape(out);
    outer_ = b0.count(0, axis_index_);
    inner_ = b0.count(axis_index_ + 1);
  }

  void forward_cpu(crema::Context& c) { move(c, /*forward=*/true); }
  void backward_cpu(crema::Context& c) {
    // dE/dx_i is the slice of dE/dy that x_i was copied to.
    move(c, /*forward=*/false);
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) { move_cuda(c, /*forward=*/true); }
  void backward_cuda(crema::Context& c) { move_cuda(c, /*forward=*/false); }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Concat'", "2,3,4;2,5,4"},
            {"type: 'Concat' concat_param { axis: 0 }", "1,3,2;2,3,2;3,3,2"},
            {"type: 'Concat' concat_param { axis: -1 }", "2,3;2,1"}};
  }

 private:
  // Forward copies bottoms' data into the top; backward copies the top's diff into the bottoms.
  void move(crema::Context& c, bool forward) {
    const crema::TensorView top = c.top(0);
    const int64_t top_rows = top.dim(axis_index_) * inner_;
    const int nb = c.num_bottom();
    std::vector<float*> src(nb, nullptr);
    std::vector<int64_t> rows(nb), offset(nb);
    int64_t off = 0;
    for (int i = 0; i < nb; ++i) {
      const crema::TensorView b = c.bottom(i);
      rows[i] = b.dim(axis_index_) * inner_, offset[i] = off, off += rows[i];
      if (rows[i] == 0) continue;
      float* bp = forward ? b.data() : b.diff();
      float* tp = forward ? top.data() : top.diff();
      if (bp == tp || (!forward && !c.propagate_down(i))) continue;
      src[i] = bp;
    }
    float* t = forward ? top.data() : top.diff();
    auto task = [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int i = 0; i < nb; ++i) {
          if (!src[i]) continue;
          float* tp = t + n * top_rows + offset[i];
          float* bp = src[i] + n * rows[i];
          if (forward)
            std::memcpy(tp, bp, sizeof(float) * rows[i]);
          else
            std::memcpy(bp, tp, sizeof(float) * rows[i]);
        }
    };
    crema::parallel_for(outer_, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, top_rows)), task);
  }

#if CREMA_WITH_CUDA
  // move() on the GPU: bottom i is an (outer, rows_i) block at column offset_i of the top's
  // (outer, top_rows).
  void move_cuda(crema::Context& c, bool forward) {
    const crema::TensorView top = c.top(0);
    const int64_t top_rows = top.dim(axis_index_) * inner_;
    int64_t offset = 0;
    for (int i = 0; i < c.num_bottom(); ++i) {
      const crema::TensorView b = c.bottom(i);
      const int64_t rows = b.dim(axis_index_) * inner_;
      const int64_t off = offset;
      offset += rows;
      if (rows == 0 || (!forward && !c.propagate_down(i))) continue;
      float* bp = forward ? b.data() : b.diff();
      float* tp = forward ? top.data() : top.diff();
      if (bp == tp) continue;  // a single bottom sharing the top's memory
      if (forward)
        concat_copy_rows_cuda(c.cuda_stream(), outer_, rows, bp, rows, tp + off, top_rows);
      else
        concat_copy_rows_cuda(c.cuda_stream(), outer_, rows, tp + off, top_rows, bp, rows);
    }
  }
#endif

  int axis_;
  bool has_dim_;
  int64_t dim_;
  int axis_index_ = 1;
  int64_t outer_ = 0, inner_ = 0;
};

CREMA_EXPORT_PLUGIN("concat", "1.0.0", Concat)
