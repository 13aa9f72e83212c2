// SPDX-License-Identifier: BSD-2-Clause
// Launcher for accuracy.cu, called from Accuracy's CUDA path in accuracy.cpp.
// Scores x are (outer, C, inner); one label per (outer, inner) position.
#pragma once
#include <cstddef>
#include <cstdint>

// Workspace bytes accuracy_forward_cuda needs (the counters) for C classes.
size_t accuracy_workspace(int64_t C);
// top0[0] = hits / counted (0 when nothing counted); per_class (when given) = hits_c / counted_c.
// A label outside [0, C) (and not ignore_label) makes every output NaN: the GPU cannot throw
// without waiting for the stream. Runs on `stream`; `workspace` holds the counters.
void accuracy_forward_cuda(void* stream, int64_t outer, int64_t C, int64_t inner,
                           const float* x, const float* label, int64_t top_k, bool has_ignore,
                           int ignore, float* top0, float* per_class, void* workspace);
