// SPDX-License-Identifier: BSD-2-Clause
// The host's parameter getters: read a layer's LayerParameter by field path through protobuf
// reflection, so plugins never link protobuf and work with blocks the core never heard of.
#pragma once
#include <cstdint>

#include "crema/plugin_abi.h"

namespace crema::params_access {

int32_t has(const crema_params* p, const char* path, int32_t* out);
int32_t size(const crema_params* p, const char* path, int32_t* out);
int32_t get_float(const crema_params* p, const char* path, int32_t index, double* out);
int32_t get_int(const crema_params* p, const char* path, int32_t index, int64_t* out);
int32_t get_bool(const crema_params* p, const char* path, int32_t index, int32_t* out);
int32_t get_string(const crema_params* p, const char* path, int32_t index, const char** out);
const char* layer_name(const crema_params* p);

}  // namespace crema::params_access
