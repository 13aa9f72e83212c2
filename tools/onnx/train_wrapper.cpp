// SPDX-License-Identifier: BSD-2-Clause
// The train/test net and the solver crema import writes for fine-tuning an imported model.
#include <stdexcept>

#include "import_net.hpp"

namespace crema::onnx_io {

pb::NetParameter train_test_net(const pb::NetParameter& deploy, const TrainNetOptions& o) {
  pb::NetParameter net;
  net.set_name(deploy.name());
  std::string logits;
  int inputs = 0;
  for (int i = 0; i < deploy.layer_size(); ++i) {
    const pb::LayerParameter& l = deploy.layer(i);
    if (l.type() == "Input") {
      if (++inputs > 1) throw std::runtime_error("-train_net: the model has several inputs");
      for (const pb::Phase phase : {pb::TRAIN, pb::TEST}) {
        pb::LayerParameter* d = net.add_layer();
        d->set_name(l.name());
        d->set_type("Data");
        d->add_top(l.top(0));
        d->add_top("label");
        d->add_include()->set_phase(phase);
        d->mutable_transform_param()->set_scale(o.scale);
        pb::DataParameter* p = d->mutable_data_param();
        p->set_source(phase == pb::TRAIN ? o.train_source : o.test_source);
        p->set_batch_size(static_cast<uint32_t>(o.batch));
        p->set_backend(pb::DataParameter::LMDB);
      }
      continue;
    }
    // The last layer a Softmax: the loss takes its input, the logits.
    if (i + 1 == deploy.layer_size() && l.type() == "Softmax") {
      logits = l.bottom(0);
      continue;
    }
    *net.add_layer() = l;
    logits = l.top(0);
  }
  if (inputs == 0) throw std::runtime_error("-train_net: the model has no input");
  pb::LayerParameter* loss = net.add_layer();
  loss->set_name("loss");
  loss->set_type("SoftmaxWithLoss");
  loss->add_bottom(logits);
  loss->add_bottom("label");
  loss->add_top("loss");
  pb::LayerParameter* acc = net.add_layer();
  acc->set_name("accuracy");
  acc->set_type("Accuracy");
  acc->add_bottom(logits);
  acc->add_bottom("label");
  acc->add_top("accuracy");
  acc->add_include()->set_phase(pb::TEST);
  return net;
}

pb::SolverParameter fine_tune_solver(const std::string& train_net, float base_lr, int max_iter,
                                     const std::string& snapshot_prefix) {
  pb::SolverParameter s;
  s.set_net(train_net);
  s.add_test_iter(1);
  s.set_test_interval(max_iter);
  s.set_base_lr(base_lr);
  s.set_lr_policy("fixed");
  s.set_momentum(0.9f);
  s.set_weight_decay(1e-4f);
  s.set_max_iter(max_iter);
  s.set_display(1);
  s.set_snapshot_prefix(snapshot_prefix);
  return s;
}

}  // namespace crema::onnx_io
