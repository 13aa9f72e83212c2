// Steps of upgrade_net(), split by format generation.  Private to core/src.
#pragma once

#include <string>

#include "crema.pb.h"

namespace crema::upgrade_detail {

// Throws std::runtime_error "<source>: cannot upgrade <field>[<index>] 'name':
// <what>".  `field` is "layers" or "layer", the repeated field holding it.
[[noreturn]] void fail_layer(const std::string& source, const char* field,
                             int index, const std::string& name,
                             const std::string& what);

// Throws std::runtime_error "<source>: cannot upgrade: <what>".
[[noreturn]] void fail_net(const std::string& source, const std::string& what);

// V0: `layers { layer { type: "conv" ... } bottom: ... top: ... }`.
bool needs_v0_upgrade(const pb::NetParameter& net);
void upgrade_v0_to_v1(pb::NetParameter* net, const std::string& source);

// V1: `layers { type: CONVOLUTION ... }`.
bool needs_v1_upgrade(const pb::NetParameter& net);
void upgrade_v1_to_v2(pb::NetParameter* net, const std::string& source);

// scale/mean_file/crop_size/mirror in data-layer params -> transform_param.
bool needs_data_upgrade(const pb::NetParameter& net);
void upgrade_data_transform(pb::NetParameter* net, const std::string& source);

}  // namespace crema::upgrade_detail
