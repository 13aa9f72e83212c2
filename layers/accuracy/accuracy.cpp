// SPDX-License-Identifier: BSD-2-Clause
// Accuracy (Caffe's AccuracyLayer). Scores x are viewed as (outer, C, inner) around
// accuracy_param.axis; bottom 1 holds one label l[o,j] per (outer, inner) position.
//   a position counts unless l == ignore_label; it is a hit when
//     #{k : x[o,k,j] >= x[o,l,j]} - 1 < top_k      (ties are counted against the true class)
//   top 0 = hits / counted (0 when nothing counted)
//   top 1 (optional, shape (C)) = per class hits_c / counted_c (0 for a class never counted)
// No gradient. Reference: Caffe, src/caffe/layers/accuracy_layer.cpp.
// CUDA (accuracy.cu): the same verdicts, counted on the device and divided into the tops there,
// so nothing waits for the stream. Hence one difference: a label outside [0, C) cannot be
// reported as an error without a synchronisation; the GPU writes NaN to every output instead
// (the CPU path throws naming the label).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "accuracy_cuda.h"
#endif

class Accuracy final : public crema::Layer<Accuracy> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Accuracy", "accuracy_param"};
    i.min_bottoms = i.max_bottoms = 2;
    i.max_tops = 2;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    i.no_grad_bottoms = 3u;
    return i;
  }

  explicit Accuracy(const crema::Params& p)
      : top_k_(p.get<int64_t>("accuracy_param.top_k")),
        axis_(p.get<int>("accuracy_param.axis")),
        has_ignore_(p.has("accuracy_param.ignore_label")),
        ignore_(p.get<int>("accuracy_param.ignore_label")) {}

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0), label = c.bottom(1);
    const int axis = x.canonical_axis(axis_);
    outer_ = x.count(0, axis), classes_ = x.dim(axis), inner_ = x.count(axis + 1);
    CREMA_CHECK(top_k_ >= 1 && top_k_ <= classes_,
                "top_k " << top_k_ << " must be in [1, " << classes_ << "]: the scores "
                         << crema::shape_string(x.shape()) << " have " << classes_
                         << " classes along axis " << axis);
    CREMA_CHECK(label.count() == outer_ * inner_,
                "the label bottom " << crema::shape_string(label.shape()) << " has "
                                    << label.count() << " values but the scores "
                                    << crema::shape_string(x.shape()) << " with axis " << axis
                                    << " need " << outer_ * inner_ << " (one per position)");
    c.top(0).set_shape({});
    if (c.num_top() > 1) c.top(1).set_shape({classes_});
#if CREMA_WITH_CUDA
    if (c.on_gpu()) c.request_workspace(accuracy_workspace(classes_));
#endif
  }

  void forward_cpu(crema::Context& c) {
    const float* x = c.bottom(0).data();
    const float* label = c.bottom(1).data();
    const int64_t positions = outer_ * inner_;
    verdict_.resize(positions);  // here, not in reshape: a GPU net never needs it
    // Per position: -1 ignored, 0 miss, 1 hit, 2 label out of range (reported below: nothing
    // may be thrown inside parallel_for).
    auto judge = [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int l = static_cast<int>(label[p]);
        if (has_ignore_ && l == ignore_) {
          verdict_[p] = -1;
          continue;
        }
        if (l < 0 || l >= classes_) {
          verdict_[p] = 2;
          continue;
        }
        const float* xs = x + (p / inner_) * classes_ * inner_ + p % inner_;
        const float truth = xs[l * inner_];
        int64_t better = -1;  // the true class counts itself once
        for (int64_t k = 0; k < classes_; ++k) better += xs[k * inner_] >= truth;
        verdict_[p] = better < top_k_ ? 1 : 0;
      }
    };
    crema::parallel_for(positions, std::max<int64_t>(1, 4096 / classes_), judge);
    int64_t hits = 0, counted = 0;
    std::vector<int64_t> class_hits(c.num_top() > 1 ? classes_ : 0), class_count(class_hits);
    for (int64_t p = 0; p < positions; ++p) {
      const int8_t v = verdict_[p];
      if (v < 0) continue;
      CREMA_CHECK(v != 2, "label " << static_cast<int>(label[p]) << " at position " << p
                                   << " is outside [0, " << classes_ << ")");
      hits += v, ++counted;
      if (!class_hits.empty()) {
        const int l = static_cast<int>(label[p]);
        class_hits[l] += v, ++class_count[l];
      }
    }
    c.top(0).data()[0] = counted ? static_cast<float>(double(hits) / double(counted)) : 0.f;
    if (class_hits.empty()) return;
    float* per_class = c.top(1).data();
    for (int64_t k = 0; k < classes_; ++k)
      per_class[k] = class_count[k] ? static_cast<float>(double(class_hits[k]) / class_count[k])
                                    : 0.f;
  }

  // Never asked for a gradient by the net (NO_BACKWARD); present so that test harnesses that
  // run backward over every layer pass through.
  void backward_cpu(crema::Context& c) {
    for (int i = 0; i < c.num_bottom(); ++i)
      CREMA_CHECK(!c.propagate_down(i), "Accuracy has no gradient (bottom " << i << ")");
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    CREMA_CHECK(c.workspace_size() >= accuracy_workspace(classes_),
                "Accuracy: the workspace asked for in reshape is missing");
    accuracy_forward_cuda(c.cuda_stream(), outer_, classes_, inner_, c.bottom(0).data(),
                          c.bottom(1).data(), top_k_, has_ignore_, ignore_, c.top(0).data(),
                          c.num_top() > 1 ? c.top(1).data() : nullptr, c.workspace<void>());
  }
  void backward_cuda(crema::Context& c) { backward_cpu(c); }  // checks flags only
#endif

  // check-plugin fills labels with N(0,1) values, truncated to -2..2: 5 classes, ignore -1.
  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Accuracy' accuracy_param { ignore_label: -1 }", "2,5;2"},
            {"type: 'Accuracy' accuracy_param { top_k: 2 ignore_label: -1 } top: 'a' top: 'c'",
             "1,5,1,2;1,1,1,2"}};
  }

 private:
  int64_t top_k_;
  int axis_;
  bool has_ignore_;
  int ignore_;
  int64_t outer_ = 0, classes_ = 0, inner_ = 0;
  std::vector<int8_t> verdict_;
};

CREMA_EXPORT_PLUGIN("accuracy", "1.0.0", Accuracy)
