// SPDX-License-Identifier: BSD-2-Clause
// Eltwise's operation (eltwise_param.operation), as both paths switch on it: the CPU's in
// eltwise.cpp and the kernels' in eltwise.cu.
#pragma once

enum EltwiseOp { kEltwiseSum = 0, kEltwiseProd = 1, kEltwiseMax = 2 };
