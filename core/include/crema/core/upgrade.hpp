// Upgrades of legacy Caffe net and solver definitions to the current format,
// applied in place on the generated protobuf classes.
#pragma once

#include <string>

#include "crema.pb.h"

namespace crema {

// True when upgrade_net() would change `net`: V0 or V1 layers, legacy
// transformation fields in data layers, legacy net inputs, or BatchNorm
// layers that still list their frozen statistics as params.
bool net_needs_upgrade(const pb::NetParameter& net);

// Brings `net` to the current format, in this order:
//   1. V0 (`layers { layer { type: "conv" ... } }`, incl. "padding" layers)
//      to V1;
//   2. V1 (`layers { type: CONVOLUTION }`) to `layer { type: "Convolution" }`;
//   3. scale/mean_file/crop_size/mirror inside data_param, image_data_param
//      and window_data_param moved to transform_param;
//   4. `input` + `input_shape`/`input_dim` to a leading "Input" layer;
//   5. BatchNorm `param { lr_mult: 0 }` entries removed.
// Throws std::runtime_error naming `source_name` and the offending layer when
// something cannot be upgraded; `net` is then partially upgraded and should
// be discarded.  (Upgrading in place avoids copying the blobs of large
// legacy .caffemodel files.)
void upgrade_net(pb::NetParameter* net, const std::string& source_name);

// True when upgrade_solver() would change `solver` (legacy solver_type enum,
// or an inline net that needs upgrading).
bool solver_needs_upgrade(const pb::SolverParameter& solver);

// Replaces the legacy `solver_type` enum with the `type` string and upgrades
// inline nets (net_param, train_net_param, test_net_param).  Throws
// std::runtime_error when both solver_type and type are given, or an inline
// net cannot be upgraded; `solver` should then be discarded.
void upgrade_solver(pb::SolverParameter* solver,
                    const std::string& source_name = "<solver>");

}  // namespace crema
