// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/gradient_sharing.hpp"

#include <algorithm>

namespace crema {
namespace {
bool contains(const std::vector<int>& ids, int id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}
}  // namespace

std::vector<GradientShare> plan_gradient_sharing(const std::vector<GradientLayer>& layers,
                                                 int num_blobs,
                                                 const std::function<bool(int, int)>& compatible) {
  // Per blob: written in place by some layer, and how many layers read it without writing it.
  std::vector<bool> in_place(num_blobs, false);
  std::vector<int> readers(num_blobs, 0);
  for (const GradientLayer& l : layers)
    for (int b : l.bottoms) {
      if (contains(l.tops, b))
        in_place[b] = true;
      else
        ++readers[b];
    }
  std::vector<int> root(num_blobs, -1);        // the group's first blob (latest top), or -1
  std::vector<bool> forked(num_blobs, false);  // per root: some layer shared several bottoms
  std::vector<GradientShare> out;
  // Backward order: a top joins its group before its bottoms do.
  for (int i = static_cast<int>(layers.size()) - 1; i >= 0; --i) {
    const GradientLayer& l = layers[i];
    if (!l.passes || l.tops.empty() || contains(l.bottoms, l.tops[0])) continue;
    const int top = l.tops[0];
    std::vector<int> read_only, written;
    for (size_t k = 0; k < l.bottoms.size() && k < 32; ++k) {
      const int b = l.bottoms[k];
      if (!(l.passes >> k & 1u) || k >= l.need.size() || !l.need[k]) continue;
      // The layer is the blob's one reader (a blob read twice has its own gradient to sum).
      if (std::count(l.bottoms.begin(), l.bottoms.end(), b) != 1 || readers[b] != 1) continue;
      if (root[b] >= 0 || !compatible(b, top)) continue;
      (in_place[b] ? written : read_only).push_back(b);
    }
    const int group = root[top] >= 0 ? root[top] : top;
    std::vector<int> chosen = read_only;
    if (chosen.empty() && !written.empty() && !forked[group]) chosen = {written.front()};
    if (chosen.empty()) continue;
    root[top] = group;
    if (chosen.size() > 1) forked[group] = true;
    for (int b : chosen) {
      root[b] = group;
      out.push_back({b, top});
    }
  }
  return out;
}

}  // namespace crema
