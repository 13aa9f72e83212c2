// SPDX-License-Identifier: BSD-2-Clause
// Softmax over one axis (softmax_param.axis, default 1; Caffe's SoftmaxLayer):
//   y[o,c,j] = exp(x[o,c,j] - max_c x[o,c,j]) / sum_c' exp(x[o,c',j] - max_c x[o,c,j])
// with the bottom viewed as (outer = count(0, axis), C = shape[axis], inner = count(axis + 1)).
// The math lives in softmax_cpu.hpp and, on the GPU, softmax_gpu.hpp (cuDNN, or the native
// kernels of softmax.cu for engine: CAFFE); both are shared with SoftmaxWithLoss.
// Reference: Caffe, src/caffe/layers/softmax_layer.cpp.
#include <string>
#include <vector>

#include "softmax_cpu.hpp"
#include "softmax_gpu.hpp"

class Softmax final : public crema::Layer<Softmax> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Softmax", "softmax_param"};
    i.flags = CREMA_LAYER_IN_PLACE;
    return i;
  }
  explicit Softmax(const crema::Params& p)
      : axis_(p.get<int>("softmax_param.axis")),
        engine_(p.get<std::string>("softmax_param.engine")) {}

  void reshape(crema::Context& c) {
    const crema::TensorView x = c.bottom(0);
    const int axis = x.canonical_axis(axis_);
    outer_ = x.count(0, axis), channels_ = x.dim(axis), inner_ = x.count(axis + 1);
    c.top(0).set_shape(x.shape());
  }
  void forward_cpu(crema::Context& c) {
    crema_softmax::forward(c.bottom(0).data(), c.top(0).data(), outer_, channels_, inner_);
  }
  void backward_cpu(crema::Context& c) {
    // dE/dx = y (dE/dy - sum_c dE/dy_c y_c), per (outer, inner) position.
    if (!c.propagate_down(0)) return;
    crema_softmax::backward(c.top(0).data(), c.top(0).diff(), c.bottom(0).diff(), outer_, channels_,
                            inner_);
  }

#if CREMA_WITH_CUDA
  void forward_cuda(crema::Context& c) {
    gpu_.forward(c, c.bottom(0).data(), c.top(0).data(), outer_, channels_, inner_);
  }
  void backward_cuda(crema::Context& c) {
    if (!c.propagate_down(0)) return;
    gpu_.backward(c, c.top(0).data(), c.top(0).diff(), c.bottom(0).diff(), outer_, channels_,
                  inner_);
  }
#endif

  static std::vector<crema::TestConfig> tests() {
    return {{"type: 'Softmax'", "2,3,4,5"},
            {"type: 'Softmax' softmax_param { axis: -1 }", "3,7"},
            {"type: 'Softmax' softmax_param { axis: 0 }", "5,2,3"},
            {"type: 'Softmax' softmax_param { engine: CAFFE }", "2,3,4,5"},
            {"type: 'Softmax' softmax_param { engine: CAFFE axis: -1 }", "3,7"}};
  }

 private:
  int axis_;
  std::string engine_;  // DEFAULT, CAFFE or CUDNN: which GPU implementation
  int64_t outer_ = 0, channels_ = 0, inner_ = 0;
#if CREMA_WITH_CUDA
  crema_softmax::GpuSoftmax gpu_{engine_};
#endif
};

CREMA_EXPORT_PLUGIN("softmax", "1.0.0", Softmax)
