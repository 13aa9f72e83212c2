// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/precision.hpp"

#include <cpuid.h>

#include <cstdlib>
#include <stdexcept>

#include "crema/core/device.hpp"

namespace crema {

const char* dtype_name(crema_dtype t) {
  switch (t) {
    case CREMA_BFLOAT16: return "bf16";
    case CREMA_FLOAT16: return "fp16";
    default: return "fp32";
  }
}

crema_dtype parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float" || name == "FLOAT") return CREMA_FLOAT32;
  if (name == "bf16" || name == "bfloat16" || name == "BFLOAT16") return CREMA_BFLOAT16;
  if (name == "fp16" || name == "half" || name == "float16" || name == "FLOAT16")
    return CREMA_FLOAT16;
  throw std::runtime_error("unknown precision '" + name + "': use fp32, bf16 or fp16");
}

namespace {
crema_dtype from_proto(pb::Type t, const pb::LayerParameter& layer, const char* field) {
  switch (t) {
    case pb::FLOAT:
    case pb::DOUBLE:  // crema computes in fp32 at most
      return CREMA_FLOAT32;
    case pb::FLOAT16: return CREMA_FLOAT16;
    case pb::BFLOAT16: return CREMA_BFLOAT16;
    default:
      throw std::runtime_error("layer '" + layer.name() + "' (" + layer.type() + "): " + field +
                               " " + pb::Type_Name(t) +
                               " is not a math type (use FLOAT, FLOAT16 or BFLOAT16)");
  }
}

crema_dtype pick(const pb::NetParameter& net, const pb::LayerParameter& layer,
                 std::optional<crema_dtype> run, bool forward) {
  if (forward ? layer.has_forward_math() : layer.has_backward_math())
    return from_proto(forward ? layer.forward_math() : layer.backward_math(), layer,
                      forward ? "forward_math" : "backward_math");
  if (forward ? layer.has_forward_type() : layer.has_backward_type())
    return from_proto(forward ? layer.forward_type() : layer.backward_type(), layer,
                      forward ? "forward_type" : "backward_type");
  if (run) return *run;
  if (forward ? net.has_default_forward_math() : net.has_default_backward_math())
    return from_proto(forward ? net.default_forward_math() : net.default_backward_math(), layer,
                      forward ? "default_forward_math" : "default_backward_math");
  return from_proto(forward ? net.default_forward_type() : net.default_backward_type(), layer,
                    forward ? "default_forward_type" : "default_backward_type");
}
}  // namespace

LayerMath requested_math(const pb::NetParameter& net, const pb::LayerParameter& layer,
                         std::optional<crema_dtype> run) {
  return {pick(net, layer, run, true), pick(net, layer, run, false)};
}

crema_dtype requested_storage(const pb::NetParameter& net, const pb::LayerParameter& layer,
                              std::optional<crema_dtype> run) {
  if (layer.has_forward_type()) return from_proto(layer.forward_type(), layer, "forward_type");
  if (run) return *run;
  return from_proto(net.default_forward_type(), layer, "default_forward_type");
}

namespace {
// CPUID leaf 7: subleaf 1 EAX bit 5 is AVX512_BF16, subleaf 0 EDX bit 22 AMX-BF16.
bool cpuid_bit(unsigned subleaf, int reg, int bit) {
  unsigned r[4] = {};
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, subleaf, r[0], r[1], r[2], r[3]);
  return (r[reg] >> bit) & 1u;
}
}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = cpuid_bit(1, 0, 5);
  return has;
}

bool cpu_has_bf16() {
  if (const char* env = std::getenv("CREMA_CPU_BF16"); env && std::string(env) == "0") return false;
  return cpu_has_avx512_bf16();
}

std::string gpu_lacks_math(crema_dtype math) {
  if (math == CREMA_FLOAT32) return "";
  const int cc = device::compute_capability(), needed = math == CREMA_BFLOAT16 ? 80 : 70;
  if (cc >= needed) return "";
  if (cc == 0) return "no GPU is selected";
  return std::string("this GPU (compute capability ") + std::to_string(cc / 10) + "." +
         std::to_string(cc % 10) + ") has no " + dtype_name(math) +
         " tensor cores: " + dtype_name(math) + " needs " + std::to_string(needed / 10) + ".0";
}

bool cpu_has_amx_bf16() {
  static const bool has = cpuid_bit(0, 3, 22);
  return has;
}

}  // namespace crema
