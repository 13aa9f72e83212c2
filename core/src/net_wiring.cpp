// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/net_wiring.hpp"

#include <map>
#include <set>
#include <stdexcept>

namespace crema {

bool state_meets_rule(const pb::NetState& state, const pb::NetStateRule& rule) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  std::set<std::string> stages(state.stage().begin(), state.stage().end());
  for (const auto& s : rule.stage())
    if (!stages.count(s)) return false;
  for (const auto& s : rule.not_stage())
    if (stages.count(s)) return false;
  return true;
}

pb::NetParameter filter_net(const pb::NetParameter& net, const pb::NetState& state) {
  pb::NetParameter out = net;
  out.clear_layer();
  for (const auto& layer : net.layer()) {
    if (layer.include_size() && layer.exclude_size())
      throw std::runtime_error("layer '" + layer.name() +
                               "' has both include and exclude rules: use one kind");
    bool keep = layer.include_size() == 0;
    for (const auto& r : layer.exclude())
      if (state_meets_rule(state, r)) keep = false;
    for (const auto& r : layer.include())
      if (state_meets_rule(state, r)) keep = true;
    if (keep) *out.add_layer() = layer;
  }
  return out;
}

namespace {
using TopId = std::pair<int, int>;  // (layer, top index)

std::string split_layer_name(const std::string& blob, const std::string& layer, int top) {
  return blob + "_" + layer + "_" + std::to_string(top) + "_split";
}
std::string split_blob_name(const std::string& blob, const std::string& layer, int top, int i) {
  return split_layer_name(blob, layer, top) + "_" + std::to_string(i);
}
}  // namespace

pb::NetParameter insert_splits(const pb::NetParameter& net) {
  std::map<std::string, TopId> last_top;
  std::map<std::pair<int, int>, TopId> bottom_source;
  std::map<TopId, int> consumers;
  std::map<TopId, float> loss_weight;
  for (int i = 0; i < net.layer_size(); ++i) {
    const auto& l = net.layer(i);
    for (int j = 0; j < l.bottom_size(); ++j) {
      auto it = last_top.find(l.bottom(j));
      if (it == last_top.end()) continue;  // check_wiring reports it
      bottom_source[{i, j}] = it->second;
      ++consumers[it->second];
    }
    for (int j = 0; j < l.top_size(); ++j) {
      last_top[l.top(j)] = {i, j};
      if (j < l.loss_weight_size() && l.loss_weight(j) != 0) {
        loss_weight[{i, j}] = l.loss_weight(j);
        ++consumers[{i, j}];
      }
    }
  }
  pb::NetParameter out = net;
  out.clear_layer();
  std::map<TopId, int> next_split;
  for (int i = 0; i < net.layer_size(); ++i) {
    pb::LayerParameter* l = out.add_layer();
    *l = net.layer(i);
    for (int j = 0; j < l->bottom_size(); ++j) {
      auto it = bottom_source.find({i, j});
      if (it == bottom_source.end() || consumers[it->second] <= 1) continue;
      const auto& src = net.layer(it->second.first);
      l->set_bottom(j, split_blob_name(src.top(it->second.second), src.name(),
                                       it->second.second, next_split[it->second]++));
    }
    for (int j = 0; j < l->top_size(); ++j) {
      int n = consumers[{i, j}];
      if (n <= 1) continue;
      pb::LayerParameter* split = out.add_layer();
      const std::string& blob = l->top(j);
      split->set_name(split_layer_name(blob, l->name(), j));
      split->set_type("Split");
      split->add_bottom(blob);
      for (int k = 0; k < n; ++k) {
        split->add_top(split_blob_name(blob, l->name(), j, k));
        if (k == 0 && loss_weight.count({i, j})) {
          // The loss moves to the split's first top; the layer's own top feeds only the split.
          split->add_loss_weight(loss_weight[{i, j}]);
          l->set_loss_weight(j, 0);
        }
      }
    }
  }
  return out;
}

void check_wiring(const pb::NetParameter& net, const std::string& source) {
  std::map<std::string, int> producer;  // blob -> layer index
  std::map<std::string, int> produced_later;
  std::set<std::string> layer_names;
  for (int i = 0; i < net.layer_size(); ++i)
    for (const auto& t : net.layer(i).top())
      if (!produced_later.count(t)) produced_later[t] = i;
  auto where = [&](int i) {
    return source + ": layer '" + net.layer(i).name() + "' (" + net.layer(i).type() + ")";
  };
  for (int i = 0; i < net.layer_size(); ++i) {
    const auto& l = net.layer(i);
    if (l.type().empty()) throw std::runtime_error(where(i) + " has no type");
    if (l.name().empty()) throw std::runtime_error(source + ": layer " + std::to_string(i) +
                                                   " (" + l.type() + ") has no name");
    std::set<std::string> bottoms(l.bottom().begin(), l.bottom().end());
    for (const auto& b : l.bottom()) {
      if (producer.count(b)) continue;
      auto later = produced_later.find(b);
      if (later != produced_later.end() && later->second >= i)
        throw std::runtime_error(where(i) + " reads bottom '" + b +
                                 "', which is produced only later, by layer '" +
                                 net.layer(later->second).name() +
                                 "': a cycle, or layers out of order");
      throw std::runtime_error(where(i) + " reads bottom '" + b +
                               "', which no earlier layer produces");
    }
    std::set<std::string> tops;
    for (const auto& t : l.top()) {
      if (!tops.insert(t).second)
        throw std::runtime_error(where(i) + " lists top '" + t + "' twice");
      auto p = producer.find(t);
      if (p != producer.end() && !bottoms.count(t))
        throw std::runtime_error(where(i) + " produces top '" + t +
                                 "', which layer '" + net.layer(p->second).name() +
                                 "' already produces (duplicate top; in-place use needs the "
                                 "same name as a bottom)");
      producer[t] = i;
    }
  }
}

}  // namespace crema
