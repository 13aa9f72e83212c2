// SPDX-License-Identifier: BSD-2-Clause
// Precision: the type each layer computes in, from NetParameter's defaults (NVCaffe's
// default_forward_math ...), the layer's own overrides and a run's override (-precision), and
// whether this CPU can compute in bf16. docs/PRECISION.md.
#pragma once
#include <optional>
#include <string>

#include "crema.pb.h"
#include "crema/plugin_abi.h"

namespace crema {

struct LayerMath {
  crema_dtype forward = CREMA_FLOAT32, backward = CREMA_FLOAT32;
  bool operator==(const LayerMath& o) const {
    return forward == o.forward && backward == o.backward;
  }
};

// "fp32", "bf16", "fp16".
const char* dtype_name(crema_dtype t);
// "fp32" (or "float"), "bf16" ("bfloat16"), "fp16" ("half", "float16"); throws naming the choices.
crema_dtype parse_precision(const std::string& name);
// What a layer asks to compute in: its forward_math / backward_math, else its forward_type /
// backward_type, else the net's default_*_math, else default_*_type; `run` (-precision) replaces
// the net's defaults. DOUBLE computes in fp32; INT, UINT and BOOL are refused (the message names
// the layer and the field).
LayerMath requested_math(const pb::NetParameter& net, const pb::LayerParameter& layer,
                         std::optional<crema_dtype> run);
// The type a layer asks its blobs to be stored in (NVCaffe's forward_type): its forward_type, else
// `run` (-precision), else the net's default_forward_type. A blob's gradient is stored in its
// data's type. Where the layers on a blob cannot store it so, it stays fp32 (Net).
crema_dtype requested_storage(const pb::NetParameter& net, const pb::LayerParameter& layer,
                              std::optional<crema_dtype> run);
// AVX512_BF16 (bf16 dot products) on this CPU; CREMA_CPU_BF16=0 says no, to try the fp32
// fallback on any machine.
bool cpu_has_bf16();
// The CPUID bit alone, read once: for the conversion kernels, which must not pay a getenv a call.
bool cpu_has_avx512_bf16();
// AMX tiles with bf16 (matrix units of newer Xeons), for the log.
bool cpu_has_amx_bf16();
// Why the current GPU does not compute in `math` (fp16 or bf16) on tensor cores, for the log
// ("this GPU (compute capability 7.5) has no bf16 tensor cores: bf16 needs 8.0"); empty where it
// does. fp16 needs compute capability 7.0, bf16 8.0; fp32 always works.
std::string gpu_lacks_math(crema_dtype math);

}  // namespace crema
