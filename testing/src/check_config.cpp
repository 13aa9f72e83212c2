// SPDX-License-Identifier: BSD-2-Clause
// A plugin's declared test configurations, read from its descriptor through the real loader, and
// the one entry point that runs each as declared on every device there is.
#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "crema/core/precision.hpp"
#include "crema/core/registry.hpp"
#include "crema/testing/harness.hpp"
#include "test_registry.hpp"

namespace crema::testing {

namespace fs = std::filesystem;

namespace {

// Settings i of a plugin whose descriptor has them (minor 2), or nullptr: an older plugin's
// struct_size ends before test_settings, and then nothing past it is read.
const crema_test_settings* settings_of(const crema_plugin* p, uint32_t i) {
  // NOLINTNEXTLINE(bugprone-sizeof-expression): the size of the pointer field itself is meant
  if (p->struct_size < offsetof(crema_plugin, test_settings) + sizeof(p->test_settings) ||
      !p->test_settings)
    return nullptr;
  const uint32_t stride = p->test_settings[0].struct_size;
  if (stride < sizeof(crema_test_settings)) return nullptr;  // no minor-2 layout
  return reinterpret_cast<const crema_test_settings*>(
      reinterpret_cast<const char*>(p->test_settings) + size_t{stride} * i);
}

void apply(const crema_test_settings& s, DeclaredConfig& c) {
  if (s.input == CREMA_TEST_INPUT_GAUSSIAN && s.input_std > 0) c.input.std = s.input_std;
  if (s.input == CREMA_TEST_INPUT_UNIFORM) {
    c.input.kind = InputFill::kUniform;
    c.input.lo = s.input_lo;
    c.input.hi = s.input_hi;
  }
  if (s.step > 0) c.step = s.step;
  if (s.threshold > 0) c.threshold = s.threshold;
  for (uint32_t k = 0; k < s.n_kinks && k < CREMA_MAX_KINKS; ++k) c.kinks.push_back(s.kinks[k]);
  c.kink_range = s.kink_range > 0 ? s.kink_range : c.step;
}

}  // namespace

std::string DeclaredConfig::describe() const {
  std::ostringstream os;
  os << "inputs: " << input.describe() << " on every bottom; checker: step " << step
     << ", threshold " << threshold << ", ";
  if (kinks.empty()) os << "no kinks";
  for (size_t k = 0; k < kinks.size(); ++k) os << (k ? ", " : "kinks ") << kinks[k];
  if (!kinks.empty()) os << " (range " << kink_range << ")";
  return os.str();
}

std::vector<DeclaredConfig> declared_configs(const std::string& plugin_path,
                                             const std::vector<std::string>& plugin_dirs) {
  std::error_code ec;
  if (!fs::exists(plugin_path, ec)) throw std::runtime_error(plugin_path + ": no such file");
  // The plugin alone, not its directory: a broken sibling must not take its check down.
  const std::vector<std::string>& dirs = plugin_dirs;
  Registry& registry = test_registry(dirs);
  registry.add_plugin_file(plugin_path);
  const std::string canonical = fs::weakly_canonical(plugin_path, ec).string();
  for (const Refusal& r : registry.refusals())
    if (r.path == canonical) throw std::runtime_error(plugin_path + " is refused: " + r.reason);
  const crema_plugin* p = registry.plugin_descriptor(canonical);
  if (!p) throw std::runtime_error(plugin_path + ": not loaded\n" + registry.describe_search());
  std::vector<DeclaredConfig> out;
  for (uint32_t i = 0; i < p->n_tests; ++i) {
    DeclaredConfig c;
    c.plugin_path = canonical;
    c.plugin_dirs = dirs;
    c.layer_text = p->tests[i].layer_text ? p->tests[i].layer_text : "";
    c.bottom_shapes = p->tests[i].bottom_shapes ? p->tests[i].bottom_shapes : "";
    if (const crema_test_settings* s = settings_of(p, i)) apply(*s, c);
    out.push_back(c);
  }
  return out;
}

std::vector<CheckResult> check_config(const DeclaredConfig& c, const CheckOptions& o) {
  HarnessOptions opt;
  opt.plugin_dirs = o.plugin_dirs.empty() ? c.plugin_dirs : o.plugin_dirs;
  const std::vector<Shape> shapes = parse_shapes(c.bottom_shapes);
  // The gradient check; `shared`: with the bottoms the layer passes the gradient through holding
  // it in top 0's diff memory ("cpu, shared gradients"), skipped for a layer that passes none.
  auto gradient = [&](bool gpu, bool shared = false) {
    CheckResult r;
    r.check = std::string(gpu ? "gpu" : "cpu") + (shared ? ", shared gradients" : "");
    try {
      opt.gpu = gpu;
      HarnessOptions with_sharing = opt;
      with_sharing.share_passed_gradients = shared;
      LayerHarness h(c.layer_text, shapes, with_sharing);
      if (shared && !h.passes_gradient()) {
        r.skipped = true;
        r.detail = h.type() + " passes no gradient through";
        return r;
      }
      if (gpu && !h.has_cuda_path()) {
        r.skipped = true;
        r.detail = h.type() + " has no CUDA path";
        return r;
      }
      for (int b = 0; b < h.num_bottoms(); ++b) h.fill(b, c.input, 17 + b);
      GradientChecker checker(c.step, c.threshold);
      r.passed = checker.with_kinks(c.kinks, c.kink_range).check(h, &r.detail) == 0;
    } catch (const std::exception& e) {
      r.detail = e.what();
    }
    return r;
  };
  std::vector<CheckResult> out;
  if (o.cpu) out.push_back(gradient(false));
  if (o.cpu) {
    CheckResult shared = gradient(false, true);
    if (!shared.skipped) out.push_back(shared);
  }
  // Each narrower type the layer computes in on the device (cpu_math / cuda_math, where the
  // machine can) against the same device's fp32 path: "cpu bf16", "gpu fp16", ...
  // One check of a narrower path: the largest relative difference `measure` returns against
  // `against`, within the narrower tolerance; what it throws is the detail.
  auto within_tolerance = [&](const std::string& check, const char* against, const auto& measure) {
    CheckResult r;
    r.check = check;
    try {
      const double d = measure();
      r.passed = d <= o.narrower_tolerance;
      std::ostringstream os;
      os << "largest relative difference to " << against << " " << d
         << " (accepted: " << o.narrower_tolerance << ")";
      r.detail = os.str();
    } catch (const std::exception& e) {
      r.detail = e.what();
    }
    return r;
  };
  auto narrower = [&](bool gpu) {
    std::vector<int> types;
    try {
      opt.gpu = gpu;
      types = LayerHarness(c.layer_text, shapes, opt).narrower_math();
    } catch (const std::exception&) {
      // the fp32 check reports it
    }
    for (int math : types)
      out.push_back(within_tolerance(
          std::string(gpu ? "gpu " : "cpu ") + (math == CREMA_BFLOAT16 ? "bf16" : "fp16"), "fp32",
          [&] {
            opt.gpu = gpu;
            return max_math_disagreement(c.layer_text, shapes, opt, math, 3, c.input);
          }));
  };
  if (o.cpu && o.narrower) narrower(false);
  // Each narrower storage type the layer takes on the device (cpu_storage / cuda_storage) against
  // fp32 storage, computing in fp32 ("cpu bf16 storage", "gpu fp16 storage") and, where the layer
  // declares it, in the storage type as a net of that precision asks ("cpu bf16 storage, bf16
  // math", "gpu fp16 storage, fp16 math"): the paths that read 2-byte tensors in place.
  auto narrower_storage = [&](bool gpu) {
    std::vector<int> types, maths;
    bool probe_channels_last = false, may_mix = false, may_be_in_place = false;
    int n_bottoms = 0, n_tops = 0;
    try {
      opt.gpu = gpu;
      LayerHarness probe(c.layer_text, shapes, opt);
      types = probe.narrower_storage();
      maths = probe.narrower_math();
      probe_channels_last = !gpu && probe.takes_channels_last();
      n_bottoms = probe.num_bottoms();
      n_tops = probe.num_tops();
      // A Split's tops alias its bottom: the host keeps them one type.
      may_mix = !(probe.flags() & CREMA_LAYER_SHARES_DATA);
      may_be_in_place = (probe.flags() & CREMA_LAYER_IN_PLACE) && n_bottoms == 1 && n_tops == 1 &&
                        probe.top_shape(0) == probe.bottom_shape(0);
    } catch (const std::exception&) {
      // the fp32 check reports it
    }
    // On the CPU the same with the 4-D tensors stored N,H,W,C where the layer takes that order
    // too ("cpu bf16 storage, N,H,W,C").
    for (int storage : types)
      for (bool last : {false, true}) {
        if (last && !probe_channels_last) continue;
        for (int math : {int{CREMA_FLOAT32}, storage}) {
          if (math && std::find(maths.begin(), maths.end(), math) == maths.end()) continue;
          const std::string type = dtype_name(static_cast<crema_dtype>(storage));
          const std::string check = std::string(gpu ? "gpu " : "cpu ") + type + " storage" +
                                    (math ? ", " + type + " math" : "") + (last ? ", N,H,W,C" : "");
          out.push_back(within_tolerance(check, "fp32 storage", [&] {
            HarnessOptions narrow = opt;
            narrow.gpu = gpu;
            narrow.math = math;
            narrow.channels_last = last;
            return max_storage_disagreement(c.layer_text, shapes, narrow, storage, 3, c.input);
          }));
        }
      }
    // The narrow type on one side only, as beside a layer that keeps fp32 (a convolution after
    // the data layer: "..., fp32 bottoms"; global pooling before the classifier: "..., fp32
    // tops"), and in place where the layer may run so (BatchNorm, Scale and ReLU keep copies
    // for backward then): fp32 math, N,C,H,W.
    for (int storage : types) {
      const std::string name = std::string(gpu ? "gpu " : "cpu ") +
                               dtype_name(static_cast<crema_dtype>(storage)) + " storage, ";
      auto variant = [&](const std::string& what, const auto& set) {
        out.push_back(within_tolerance(name + what, "fp32 storage", [&] {
          HarnessOptions narrow = opt;
          narrow.gpu = gpu;
          narrow.math = 0;
          set(narrow);
          return max_storage_disagreement(c.layer_text, shapes, narrow, storage, 3, c.input);
        }));
      };
      if (may_mix) {
        variant("fp32 bottoms",
                [&](HarnessOptions& h) { h.bottom_storage.assign(n_bottoms, CREMA_FLOAT32); });
        variant("fp32 tops",
                [&](HarnessOptions& h) { h.top_storage.assign(n_tops, CREMA_FLOAT32); });
      }
      if (may_be_in_place) variant("in place", [](HarnessOptions& h) { h.in_place = true; });
    }
  };
  if (o.cpu && o.narrower) narrower_storage(false);
  if (!o.gpu) return out;
  if (!gpu_available()) {
    CheckResult r;
    r.check = "gpu";
    r.skipped = true;
    r.detail = "no CUDA device";
    out.push_back(r);
    return out;
  }
  out.push_back(gradient(true));
  if (out.back().skipped) return out;
  if (CheckResult shared = gradient(true, true); !shared.skipped) out.push_back(shared);
  CheckResult a;
  a.check = "cpu/gpu";
  try {
    opt.gpu = false;
    const double d = max_device_disagreement(c.layer_text, shapes, opt, 3, c.input);
    a.passed = d <= o.agreement;
    std::ostringstream os;
    os << "largest relative difference " << d << " (accepted: " << o.agreement << ")";
    a.detail = os.str();
  } catch (const std::exception& e) {
    a.detail = e.what();
  }
  out.push_back(a);
  if (o.narrower) {
    narrower(true);
    narrower_storage(true);
  }
  return out;
}

}  // namespace crema::testing
