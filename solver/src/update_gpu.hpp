// SPDX-License-Identifier: BSD-2-Clause
// The parameter update on the GPU: the same arithmetic as update.cpp and update_rules.cpp, fused
// into one kernel per parameter tensor (normalise, regularise, clip scale, rule, subtract), on
// crema's stream. Only built with CUDA.
#pragma once
#include <cstdint>

#include "crema/solver/rule_params.hpp"

namespace crema::gpu_update {

// g <- g * norm + decay * (L1 ? sign(w) : w), in place.
void regularize(void* stream, int64_t n, float norm, float decay, bool l1, const float* w,
                float* g);
// sum(g^2) into *out (device double, accumulated: zero it first); for clip_gradients.
void sumsq_accumulate(void* stream, int64_t n, const float* g, double* out);
// *flag = 1 when any of g[0, n) is inf or NaN (a device int: zero it first); for dynamic loss
// scaling.
void flag_nonfinite(void* stream, int64_t n, const float* g, int* flag);
// g <- step(g * scale, h0, h1, rate); w -= step; g <- step (as the CPU path leaves it).
void apply(void* stream, const RuleParams& r, int64_t n, float scale, float rate, float* w,
           float* g, float* h0, float* h1);

}  // namespace crema::gpu_update
