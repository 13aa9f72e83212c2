// SPDX-License-Identifier: BSD-2-Clause
// The graph before any memory exists: which layers a phase keeps (include/exclude rules), the
// Split layers that fan one top out to several bottoms, and the wiring checks (a bottom no one
// produced, a top produced twice, a layer that reads a blob made only later).
#pragma once
#include <string>

#include "crema.pb.h"

namespace crema {

bool state_meets_rule(const pb::NetState& state, const pb::NetStateRule& rule);
// Caffe's FilterNet: the layers whose rules admit `state`.
pb::NetParameter filter_net(const pb::NetParameter& net, const pb::NetState& state);
// Caffe's InsertSplits: one Split layer after every top that feeds several bottoms (or a bottom
// and a loss), so that each consumer gets its own diff and the gradients are summed.
pb::NetParameter insert_splits(const pb::NetParameter& net);
// Throws std::runtime_error naming the layer and blob for the first wiring error.
void check_wiring(const pb::NetParameter& net, const std::string& source);

}  // namespace crema
