// SPDX-License-Identifier: BSD-2-Clause
#include "crema/testing/harness.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>

#include "crema/bf16.hpp"
#include "crema/core/device.hpp"
#include "crema/core/host.hpp"
#include "crema/core/layer_instance.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"
#include "test_registry.hpp"

namespace crema::testing {

// Directories are only ever added (the registry keeps what it loaded anyway), so that those given
// before, such as crema's -plugin_dir, stay searched.
Registry& test_registry(const std::vector<std::string>& extra) {
  std::vector<std::string> dirs = extra;
  if (const char* env = std::getenv("CREMA_TEST_PLUGIN_DIR")) dirs.push_back(env);
  Registry& r = Registry::global();
  const std::vector<std::string> known = r.search_dirs();
  for (const std::string& d : dirs)
    if (std::find(known.begin(), known.end(), d) == known.end()) r.add_search_dir(d);
  return r;
}

namespace {
// The layer type of `layer_text`, read without the plugins' blocks (they may be what is missing):
// quietly, parse_layer_text reports what is wrong with the text.
std::string layer_type(const std::string& layer_text) {
  struct Quiet : google::protobuf::io::ErrorCollector {
    void AddError(int, int, const std::string&) override {}
    void AddWarning(int, int, const std::string&) override {}
  } quiet;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&quiet);
  parser.AllowUnknownField(true);
  pb::LayerParameter lp;
  return parser.ParseFromString(layer_text, &lp) ? lp.type() : "";
}

// A test binary run outside CTest lacks CREMA_TEST_PLUGIN_DIR: say where the harness looked and
// what to set.
std::string missing_type(const std::string& type, Registry& registry) {
  std::ostringstream os;
  os << "LayerHarness: no plugin provides layer type '" << type << "'.\n"
     << registry.describe_search() << "\n  ";
  const char* env = std::getenv("CREMA_TEST_PLUGIN_DIR");
  if (env)
    os << "CREMA_TEST_PLUGIN_DIR=" << env << " holds no plugin that provides it.";
  else
    os << "CREMA_TEST_PLUGIN_DIR is not set: CTest sets it to the folder of the plugin under test. "
          "Outside CTest set it yourself, CREMA_TEST_PLUGIN_DIR=<folder of the plugin's .so> "
          "./<test binary>, or give HarnessOptions::plugin_dirs.";
  return os.str();
}
}  // namespace

std::string InputFill::describe() const {
  std::ostringstream os;
  if (kind == kUniform)
    os << "uniform [" << lo << ", " << hi << ")";
  else
    os << "gaussian N(0, " << std << ")";
  return os.str();
}

struct LayerHarness::Impl {
  std::unique_ptr<LayerInstance> layer;
  // What the accessors read and write (fp32) and, where a narrower storage type was asked, the
  // tensors the layer sees instead (otherwise the same ones).
  std::vector<std::shared_ptr<crema::Tensor>> bottoms, tops, layer_bottoms, layer_tops;
  std::vector<crema::Tensor*> bvec, tvec;  // the layer's
  std::shared_ptr<crema::Tensor> workspace;
  crema_exec exec{};
  HarnessOptions options;
};

namespace {
// The net's rule for one layer (Net::plan_channels_last): its 4-D bf16 tensors go N,H,W,C where
// it declared that order, and only if all its 4-D tensors are bf16 unless it declared MIXED. Tops
// are 4-D where the bottoms are (their shapes come only with reshape).
void set_channels_last(const LayerInstance& layer, const std::vector<crema::Tensor*>& bottoms,
                       const std::vector<crema::Tensor*>& tops) {
  const uint32_t layouts = layer.cpu_layouts();
  if (!(layouts & CREMA_LAYOUT_CHANNELS_LAST)) return;
  std::vector<crema::Tensor*> four_d;
  for (crema::Tensor* t : bottoms)
    if (t->ndim() == 4) four_d.push_back(t);
  if (!four_d.empty())
    for (crema::Tensor* t : tops) four_d.push_back(t);
  bool all_bf16 = true;
  for (crema::Tensor* t : four_d) all_bf16 = all_bf16 && t->dtype() == CREMA_BFLOAT16;
  if (!all_bf16 && !(layouts & CREMA_LAYOUT_MIXED)) return;
  for (crema::Tensor* t : four_d)
    if (t->dtype() == CREMA_BFLOAT16) t->set_channels_last(true);
}
}  // namespace

LayerHarness::LayerHarness(const std::string& layer_text, const std::vector<Shape>& bottom_shapes,
                           const HarnessOptions& options)
    : impl_(new Impl) {
  Impl& s = *impl_;
  s.options = options;
  Registry& registry = test_registry(options.plugin_dirs);
  const std::string type = layer_type(layer_text);
  if (!type.empty() && !registry.has(type)) throw std::runtime_error(missing_type(type, registry));
  pb::LayerParameter lp = parse_layer_text(layer_text, "<test layer>", registry);
  if (lp.name().empty()) lp.set_name("under_test");
  lp.set_phase(options.train ? pb::TRAIN : pb::TEST);
  if (lp.bottom_size() == 0)
    for (size_t i = 0; i < bottom_shapes.size(); ++i) lp.add_bottom("bottom" + std::to_string(i));
  s.layer = std::make_unique<LayerInstance>(lp, registry);
  int n_tops = lp.top_size();
  if (n_tops == 0) {
    n_tops = s.layer->desc().min_tops > 0 ? s.layer->desc().min_tops : 1;
    for (int i = 0; i < n_tops; ++i) lp.add_top("top" + std::to_string(i));
  }
  const auto device = options.gpu ? CREMA_CUDA : CREMA_CPU;
  auto storage = [&](const std::vector<int>& each, size_t i) {
    const int t = i < each.size() ? each[i] : options.storage;
    return s.layer->stores_in(static_cast<crema_dtype>(t), device) ? static_cast<crema_dtype>(t)
                                                                   : CREMA_FLOAT32;
  };
  for (size_t i = 0; i < bottom_shapes.size(); ++i) {
    s.bottoms.push_back(std::make_shared<crema::Tensor>(bottom_shapes[i]));
    const crema_dtype t = storage(options.bottom_storage, i);
    auto narrow = t == CREMA_FLOAT32 ? s.bottoms.back()
                                     : std::make_shared<crema::Tensor>(bottom_shapes[i]);
    narrow->set_dtype(t);
    s.layer_bottoms.push_back(narrow);
  }
  for (int i = 0; i < n_tops; ++i) {
    if (i == 0 && options.in_place) {
      s.tops.push_back(s.bottoms.at(0));
      s.layer_tops.push_back(s.layer_bottoms.at(0));
      continue;
    }
    s.tops.push_back(std::make_shared<crema::Tensor>());
    const crema_dtype t = storage(options.top_storage, static_cast<size_t>(i));
    auto narrow = t == CREMA_FLOAT32 ? s.tops.back() : std::make_shared<crema::Tensor>();
    narrow->set_dtype(t);
    s.layer_tops.push_back(narrow);
  }
  for (auto& t : s.layer_bottoms) s.bvec.push_back(t.get());
  for (auto& t : s.layer_tops) s.tvec.push_back(t.get());
  if (options.channels_last && !options.gpu) set_channels_last(*s.layer, s.bvec, s.tvec);
  s.exec.struct_size = sizeof(s.exec);
  s.exec.phase = options.train ? CREMA_TRAIN : CREMA_TEST;
  s.exec.device = options.gpu ? CREMA_CUDA : CREMA_CPU;
  s.exec.num_threads = crema::num_threads();  // CREMA_NUM_THREADS=2 exercises threaded paths
  s.exec.rng_seed = options.seed;
  if (options.math != CREMA_FLOAT32 &&
      s.layer->computes_in(static_cast<crema_dtype>(options.math),
                           static_cast<crema_device>(s.exec.device)))
    s.exec.math = options.math;
  if (options.gpu) {
    device::select(0);
    s.exec.cuda_stream = device::stream();
    s.exec.cublas_handle = device::cublas_handle();
    s.exec.cudnn_handle = device::cudnn_handle();
  }
  s.layer->setup(s.bvec, s.tvec, s.exec);
  s.layer->fill_params(options.seed);
  reshape();
}

int LayerHarness::math() const { return impl_->exec.math; }

std::vector<int> LayerHarness::narrower_math() const {
  std::vector<int> out;
  const auto device = static_cast<crema_device>(impl_->exec.device);
  for (crema_dtype t : {CREMA_BFLOAT16, CREMA_FLOAT16})
    if (impl_->layer->computes_in(t, device)) out.push_back(t);
  return out;
}

bool LayerHarness::stores_in(int type) const {
  return impl_->layer->stores_in(static_cast<crema_dtype>(type),
                                 static_cast<crema_device>(impl_->exec.device));
}

bool LayerHarness::takes_channels_last() const {
  return (impl_->layer->cpu_layouts() & CREMA_LAYOUT_CHANNELS_LAST) != 0;
}

uint32_t LayerHarness::flags() const { return impl_->layer->desc().flags; }
uint32_t LayerHarness::passes_gradient() const { return impl_->layer->passes_gradient(); }

std::vector<int> LayerHarness::narrower_storage() const {
  std::vector<int> out;
  for (crema_dtype t : {CREMA_BFLOAT16, CREMA_FLOAT16})
    if (stores_in(t)) out.push_back(t);
  return out;
}

namespace {
// Between the accessors' fp32 tensor and the layer's narrower one (host memory; data or diff).
void narrow_into(const crema::Tensor& from, crema::Tensor& to, bool diff) {
  if (&from == &to || from.count() == 0) return;
  to.from_float(diff ? from.host_diff() : from.host_data(), diff);
}
void widen_into(const crema::Tensor& from, crema::Tensor& to, bool diff) {
  if (&from == &to || from.count() == 0) return;
  const std::vector<float> x = from.to_float(diff);
  std::copy(x.begin(), x.end(), diff ? to.mutable_host_diff() : to.mutable_host_data());
}
}  // namespace

LayerHarness::~LayerHarness() = default;
LayerHarness::LayerHarness(LayerHarness&&) noexcept = default;

int LayerHarness::num_bottoms() const { return static_cast<int>(impl_->bottoms.size()); }
int LayerHarness::num_tops() const { return static_cast<int>(impl_->tops.size()); }
int LayerHarness::num_params() const { return static_cast<int>(impl_->layer->params().size()); }
Shape LayerHarness::bottom_shape(int i) const { return impl_->bottoms.at(i)->shape(); }
Shape LayerHarness::top_shape(int i) const { return impl_->tops.at(i)->shape(); }
Shape LayerHarness::param_shape(int i) const {
  return impl_->layer->params().at(i).tensor->shape();
}
int64_t LayerHarness::count(const Shape& s) const {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}
float* LayerHarness::bottom_data(int i) { return impl_->bottoms.at(i)->mutable_host_data(); }
float* LayerHarness::bottom_diff(int i) { return impl_->bottoms.at(i)->mutable_host_diff(); }
float* LayerHarness::top_data(int i) { return impl_->tops.at(i)->mutable_host_data(); }
float* LayerHarness::top_diff(int i) { return impl_->tops.at(i)->mutable_host_diff(); }
float* LayerHarness::param_data(int i) {
  return impl_->layer->params().at(i).tensor->mutable_host_data();
}
float* LayerHarness::param_diff(int i) {
  return impl_->layer->params().at(i).tensor->mutable_host_diff();
}
bool LayerHarness::param_is_state(int i) const { return impl_->layer->params().at(i).is_state; }
std::string LayerHarness::type() const { return impl_->layer->type(); }

bool LayerHarness::has_cuda_path() const { return impl_->layer->has_cuda(); }

bool LayerHarness::bottom_takes_gradient(int i) const {
  return !(impl_->layer->desc().no_grad_bottoms & (1u << i)) &&
         !(impl_->layer->desc().flags & CREMA_LAYER_NO_BACKWARD);
}

void LayerHarness::fill_gaussian(int bottom, double std, double mean, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(static_cast<float>(mean), static_cast<float>(std));
  float* x = bottom_data(bottom);
  for (int64_t i = 0; i < impl_->bottoms.at(bottom)->count(); ++i) x[i] = d(rng);
}

void LayerHarness::fill_uniform(int bottom, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(static_cast<float>(lo), static_cast<float>(hi));
  float* x = bottom_data(bottom);
  for (int64_t i = 0; i < impl_->bottoms.at(bottom)->count(); ++i) x[i] = d(rng);
}

void LayerHarness::fill(int bottom, const InputFill& input, uint64_t seed) {
  if (input.kind == InputFill::kUniform)
    fill_uniform(bottom, input.lo, input.hi, seed);
  else
    fill_gaussian(bottom, input.std, 0.0, seed);
}

void LayerHarness::fill_params_gaussian(double std, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.f, static_cast<float>(std));
  for (int p = 0; p < num_params(); ++p) {
    if (param_is_state(p)) continue;
    float* x = param_data(p);
    for (int64_t i = 0; i < count(param_shape(p)); ++i) x[i] = d(rng);
  }
}

void LayerHarness::reshape() {
  Impl& s = *impl_;
  for (size_t i = 0; i < s.bottoms.size(); ++i)
    if (s.layer_bottoms[i] != s.bottoms[i]) s.layer_bottoms[i]->reshape(s.bottoms[i]->shape());
  size_t ws = s.layer->reshape(s.bvec, s.tvec, s.exec);
  for (size_t i = 0; i < s.tops.size(); ++i)
    if (s.layer_tops[i] != s.tops[i]) s.tops[i]->reshape(s.layer_tops[i]->shape());
  // As a net does after every reshape (a grown tensor has memory of its own again).
  const uint32_t passed = s.options.share_passed_gradients ? s.layer->passes_gradient() : 0;
  for (size_t i = 0; i < s.layer_bottoms.size() && i < 32 && !s.layer_tops.empty(); ++i) {
    crema::Tensor &b = *s.layer_bottoms[i], &t = *s.layer_tops[0];
    if ((passed >> i & 1u) && &b != &t && b.diff_fits(t)) b.share_diff(t);
  }
  if (ws > s.exec.workspace_size) {
    s.workspace = std::make_shared<crema::Tensor>(crema::Shape{static_cast<int64_t>((ws + 3) / 4)});
    s.exec.workspace = s.options.gpu ? static_cast<void*>(s.workspace->mutable_device_data())
                                     : static_cast<void*>(s.workspace->mutable_host_data());
    s.exec.workspace_size = ws;
  }
}

void LayerHarness::forward() {
  Impl& s = *impl_;
  for (size_t i = 0; i < s.bottoms.size(); ++i)
    narrow_into(*s.bottoms[i], *s.layer_bottoms[i], false);
  s.layer->forward(s.bvec, s.tvec, s.exec);
  for (size_t i = 0; i < s.tops.size(); ++i) widen_into(*s.layer_tops[i], *s.tops[i], false);
  ++s.exec.rng_counter;
}
uint64_t LayerHarness::rng_counter() const { return impl_->exec.rng_counter; }
void LayerHarness::set_rng_counter(uint64_t counter) { impl_->exec.rng_counter = counter; }

void LayerHarness::backward(const std::vector<bool>& propagate_down) {
  std::vector<int8_t> pd(impl_->bvec.size(), 0);
  for (size_t i = 0; i < pd.size(); ++i)
    pd[i] = static_cast<int8_t>(bottom_takes_gradient(static_cast<int>(i)) &&
                                (propagate_down.empty() || propagate_down.at(i)));
  Impl& s = *impl_;
  for (size_t i = 0; i < s.tops.size(); ++i) narrow_into(*s.tops[i], *s.layer_tops[i], true);
  s.layer->backward(s.tvec, s.bvec, pd, true, s.exec);
  for (size_t i = 0; i < s.bottoms.size(); ++i)
    if (pd[i]) widen_into(*s.layer_bottoms[i], *s.bottoms[i], true);
}

void LayerHarness::zero_param_diffs() {
  for (auto& p : impl_->layer->params()) p.tensor->zero_diff(CREMA_CPU);
}

bool gpu_available() { return device::count() > 0; }

int gpu_compute_capability() {
  if (device::count() == 0) return 0;
  device::select(0);
  return device::compute_capability();
}

double round_to_math(double v, int math) {
  if (math == CREMA_FLOAT32 || v == 0 || !std::isfinite(v)) return static_cast<float>(v);
  const int bits = math == CREMA_BFLOAT16 ? 8 : 11;
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e-1), 2^e)
  // fp16's subnormals keep the quantum of its smallest normal exponent (2^-14): 2^-24.
  if (math == CREMA_FLOAT16) e = std::max(e, -13);
  const double quantum = std::ldexp(1.0, e - bits);
  const double r = std::nearbyint(v / quantum) * quantum;  // the default mode: ties to even
  if (math == CREMA_FLOAT16 && std::fabs(r) > 65504) return std::copysign(INFINITY, v);
  return r;
}

std::vector<Shape> parse_shapes(const std::string& spec) {
  std::vector<Shape> shapes;
  std::stringstream ss(spec);
  std::string one;
  while (std::getline(ss, one, ';')) {
    Shape s;
    std::stringstream ds(one);
    std::string d;
    while (std::getline(ds, d, ',')) s.push_back(std::stoll(d));
    shapes.push_back(s);
  }
  return shapes;
}

}  // namespace crema::testing
