// SPDX-License-Identifier: BSD-2-Clause
// A plugin layer's own ONNX mapping, through the plugin ABI's export hook.
#include "export_layers.hpp"

namespace crema::onnx_io {

bool export_by_plugin(const LayerToExport& /*layer*/, GraphBuilder& /*g*/) { return false; }

}  // namespace crema::onnx_io
