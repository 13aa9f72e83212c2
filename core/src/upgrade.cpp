// Net and solver upgrade drivers, plus the two upgrades that apply to
// current-format nets: legacy net inputs and BatchNorm params.
#include "crema/core/upgrade.hpp"

#include <sstream>
#include <stdexcept>
#include <string>

#include "upgrade_internal.hpp"

namespace crema {
namespace upgrade_detail {

void fail_layer(const std::string& source, const char* field, int index,
                const std::string& name, const std::string& what) {
  std::ostringstream os;
  os << source << ": cannot upgrade " << field << "[" << index << "]";
  if (!name.empty()) os << " '" << name << "'";
  os << ": " << what;
  throw std::runtime_error(os.str());
}

void fail_net(const std::string& source, const std::string& what) {
  throw std::runtime_error(source + ": cannot upgrade: " + what);
}

}  // namespace upgrade_detail

namespace {

using upgrade_detail::fail_layer;
using upgrade_detail::fail_net;

bool needs_input_upgrade(const pb::NetParameter& net) {
  return net.input_size() > 0 || net.input_shape_size() > 0 ||
         net.input_dim_size() > 0;
}

// `input: "data"` plus `input_shape {...}` or four `input_dim` per input
// becomes a first layer { type: "Input" top: "data" input_param {...} }.
// Inputs without any shape (old binary models) are simply dropped, as Caffe
// does.
void upgrade_input(pb::NetParameter* net, const std::string& source) {
  const int n = net->input_size();
  const bool has_shape = net->input_shape_size() > 0;
  const bool has_dim = net->input_dim_size() > 0;
  if (n == 0) {
    fail_net(source, "input_shape/input_dim given without `input` names");
  }
  if (has_shape && net->input_shape_size() != n) {
    fail_net(source, std::to_string(n) + " inputs but " +
                         std::to_string(net->input_shape_size()) +
                         " input_shape entries (need one per input)");
  }
  if (!has_shape && has_dim && net->input_dim_size() != 4 * n) {
    fail_net(source, std::to_string(n) + " inputs but " +
                         std::to_string(net->input_dim_size()) +
                         " input_dim values (need four per input)");
  }
  if (has_shape || has_dim) {
    pb::LayerParameter* input = net->add_layer();
    input->set_name("input");
    input->set_type("Input");
    pb::InputParameter* param = input->mutable_input_param();
    for (int i = 0; i < n; ++i) {
      input->add_top(net->input(i));
      pb::BlobShape* shape = param->add_shape();
      if (has_shape) {
        *shape = net->input_shape(i);  // input_shape wins, as in Caffe
      } else {
        for (int d = 4 * i; d < 4 * i + 4; ++d) {
          shape->add_dim(net->input_dim(d));
        }
      }
    }
    // Move it to the front: later layers consume its tops.
    auto* layers = net->mutable_layer();
    for (int i = layers->size() - 1; i > 0; --i) layers->SwapElements(i, i - 1);
  }
  net->clear_input();
  net->clear_input_shape();
  net->clear_input_dim();
}

// Old BatchNorm definitions froze their three statistics blobs with
// `param { lr_mult: 0 }`; current Caffe (and crema) freeze them internally
// and treat explicit entries as a configuration error.  Entries that carry a
// name or share_mode are kept, since they express parameter sharing.
bool batch_norm_params_strippable(const pb::LayerParameter& l) {
  if (l.type() != "BatchNorm" || l.param_size() == 0) return false;
  for (const pb::ParamSpec& p : l.param()) {
    if (!p.has_lr_mult() || p.lr_mult() != 0.0f || p.has_name() ||
        p.has_share_mode()) {
      return false;
    }
  }
  return true;
}

bool needs_batch_norm_upgrade(const pb::NetParameter& net) {
  for (const pb::LayerParameter& l : net.layer()) {
    if (batch_norm_params_strippable(l)) return true;
  }
  return false;
}

void upgrade_batch_norm(pb::NetParameter* net) {
  for (pb::LayerParameter& l : *net->mutable_layer()) {
    if (batch_norm_params_strippable(l)) l.clear_param();
  }
}

const char* solver_type_name(pb::SolverParameter::SolverType type) {
  switch (type) {
    case pb::SolverParameter::SGD: return "SGD";
    case pb::SolverParameter::NESTEROV: return "Nesterov";
    case pb::SolverParameter::ADAGRAD: return "AdaGrad";
    case pb::SolverParameter::RMSPROP: return "RMSProp";
    case pb::SolverParameter::ADADELTA: return "AdaDelta";
    case pb::SolverParameter::ADAM: return "Adam";
  }
  return nullptr;
}

}  // namespace

bool net_needs_upgrade(const pb::NetParameter& net) {
  return upgrade_detail::needs_v0_upgrade(net) ||
         upgrade_detail::needs_v1_upgrade(net) ||
         upgrade_detail::needs_data_upgrade(net) || needs_input_upgrade(net) ||
         needs_batch_norm_upgrade(net);
}

void upgrade_net(pb::NetParameter* net, const std::string& source_name) {
  if (upgrade_detail::needs_v0_upgrade(*net)) {
    upgrade_detail::upgrade_v0_to_v1(net, source_name);
  }
  if (upgrade_detail::needs_v1_upgrade(*net)) {
    upgrade_detail::upgrade_v1_to_v2(net, source_name);
  }
  if (upgrade_detail::needs_data_upgrade(*net)) {
    upgrade_detail::upgrade_data_transform(net, source_name);
  }
  if (needs_input_upgrade(*net)) upgrade_input(net, source_name);
  if (needs_batch_norm_upgrade(*net)) upgrade_batch_norm(net);
}

bool solver_needs_upgrade(const pb::SolverParameter& solver) {
  if (solver.has_solver_type()) return true;
  if (solver.has_net_param() && net_needs_upgrade(solver.net_param())) {
    return true;
  }
  if (solver.has_train_net_param() &&
      net_needs_upgrade(solver.train_net_param())) {
    return true;
  }
  for (const pb::NetParameter& net : solver.test_net_param()) {
    if (net_needs_upgrade(net)) return true;
  }
  return false;
}

void upgrade_solver(pb::SolverParameter* solver,
                    const std::string& source_name) {
  if (solver->has_solver_type()) {
    if (solver->has_type()) {
      throw std::runtime_error(
          source_name +
          ": cannot upgrade: both the legacy `solver_type` enum and `type` "
          "are set; keep only `type`");
    }
    const char* type = solver_type_name(solver->solver_type());
    if (type == nullptr) {
      throw std::runtime_error(
          source_name + ": cannot upgrade: unknown solver_type value " +
          std::to_string(static_cast<int>(solver->solver_type())));
    }
    solver->set_type(type);
    solver->clear_solver_type();
  }
  if (solver->has_net_param() && net_needs_upgrade(solver->net_param())) {
    upgrade_net(solver->mutable_net_param(), source_name + " (net_param)");
  }
  if (solver->has_train_net_param() &&
      net_needs_upgrade(solver->train_net_param())) {
    upgrade_net(solver->mutable_train_net_param(),
                source_name + " (train_net_param)");
  }
  for (int i = 0; i < solver->test_net_param_size(); ++i) {
    if (net_needs_upgrade(solver->test_net_param(i))) {
      upgrade_net(solver->mutable_test_net_param(i),
                  source_name + " (test_net_param[" + std::to_string(i) +
                      "])");
    }
  }
}

}  // namespace crema
