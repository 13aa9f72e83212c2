// SPDX-License-Identifier: BSD-2-Clause
// Silence (Caffe's SilenceLayer): consumes bottoms so they are not net outputs; no tops.
//   forward: nothing.   backward: dE/dx = 0 for every bottom that asks for a gradient.
// CREMA_LAYER_NO_BACKWARD: the net never needs a gradient through it; the zeroing backward is
// kept for callers that run it anyway (as Caffe does with force_backward). On the GPU the same,
// with cudaMemsetAsync on the call's stream (silence.cu).
// Reference: Caffe, src/caffe/layers/silence_layer.cpp.
#include <cstring>

#include "crema/layer.hpp"
#if CREMA_WITH_CUDA
#include "silence_cuda.h"
#endif

class Silence final : public crema::Layer<Silence> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Silence"};
    i.min_bottoms = 1;
    i.max_bottoms = -1;
    i.min_tops = i.max_tops = 0;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }
  explicit Silence(const crema::Params&) {}
  void reshape(crema::Context&) {}
  void forward_cpu(crema::Context&) {}
  void backward_cpu(crema::Context& c) {
    // The loss does not depend on the bottoms through this layer: dE/dx = 0.
    for (int i = 0; i < c.num_bottom(); ++i)
      if (c.propagate_down(i))
        std::memset(c.bottom(i).diff(), 0, sizeof(float) * c.bottom(i).count());
  }
#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context&) {}
  void backward_cuda(crema::Context& c) {
    for (int i = 0; i < c.num_bottom(); ++i)
      if (c.propagate_down(i))
        silence_zero_cuda(c.cuda_stream(), c.bottom(i).diff(), c.bottom(i).count());
  }
#endif
  // No tests(): the test harness behind check-plugin gives every layer at least one top.
};

CREMA_EXPORT_PLUGIN("silence", "1.0.0", Silence)
