// SPDX-License-Identifier: BSD-2-Clause
// The machine's sgemm rate, to compare a training step's multiply-adds against (crema time).
#pragma once

namespace crema::tools {

// GFLOP/s of a large square single-precision GEMM on `threads` threads (best of five).
double sgemm_gflops(int threads);

}  // namespace crema::tools
