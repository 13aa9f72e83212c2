// SPDX-License-Identifier: BSD-2-Clause
// The solver tests' net (CPU and GPU alike): random inputs and labels each iteration, a hidden
// layer with dropout, softmax loss. Labels come from a uniform filler over [0, 3):
// SoftmaxWithLoss truncates them to integers, as Caffe's does.
#pragma once

namespace crema::test_nets {

inline const char* kTinyNet = R"(
  name: "tiny"
  layer { name: "data" type: "DummyData" top: "x" top: "label"
    dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
                       data_filler { type: "gaussian" std: 1 }
                       data_filler { type: "uniform" min: 0 max: 2.99 } } }
  layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h"
    inner_product_param { num_output: 5 weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.1 } } }
  layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
  layer { name: "drop" type: "Dropout" bottom: "h" top: "h" dropout_param { dropout_ratio: 0.3 } }
  layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "y" param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
    inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
)";

}  // namespace crema::test_nets
