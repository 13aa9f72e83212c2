// SPDX-License-Identifier: BSD-2-Clause
// Python (Caffe's PythonLayer): a layer written in Python, named by
//   python_param { module: "my_layers" layer: "MyLayer" param_str: "..." }
// The class follows pycaffe's protocol: it is made with the layer's parameters, gets param_str
// and phase, then setup(bottom, top), reshape(bottom, top), forward(bottom, top) and
// backward(top, propagate_down, bottom) over blobs whose .data/.diff are numpy arrays viewing
// crema's memory; setup, reshape and backward may be left out (crema.Layer's do nothing). CPU
// only; the GIL is held for each call and nothing else. share_in_parallel is read and ignored
// (crema shares no layer between solvers). Reference: Caffe,
// include/caffe/layers/python_layer.hpp; docs/PYTHON.md.
#include <string>
#include <vector>

#include "crema/layer.hpp"
#include "embedded_python.hpp"
#include "layer_blob.hpp"

namespace py = pybind11;
using crema_python_layer::BlobList;
using crema_python_layer::run_python;
using crema_python_layer::Stage;

class PythonLayer final : public crema::Layer<PythonLayer> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Python", "python_param"};
    i.min_bottoms = i.min_tops = 0;
    i.max_bottoms = i.max_tops = -1;
    return i;
  }

  explicit PythonLayer(const crema::Params& p)
      : name_(p.layer_name()),
        module_(p.get<std::string>("python_param.module")),
        class_(p.get<std::string>("python_param.layer")),
        param_str_(p.get<std::string>("python_param.param_str")),
        share_in_parallel_(p.get<bool>("python_param.share_in_parallel")) {
    CREMA_CHECK(!module_.empty() && !class_.empty(),
                "python_param needs module and layer (the Python module and its class), got "
                "module '"
                    << module_ << "' layer '" << class_ << "'");
    crema_python_layer::ensure_interpreter();
    run_python(where("import"), [&] {
      crema_python_layer::register_layer_blob_type();
      crema_python_layer::extend_sys_path();
      py::object cls = py::module_::import(module_.c_str()).attr(class_.c_str());
      class_object_ = new py::object(cls);
    });
  }

  ~PythonLayer() override {
    // Python objects die with the GIL held; after the interpreter ended, they are left alone.
    if (!Py_IsInitialized()) return;
    PyGILState_STATE state = PyGILState_Ensure();
    delete self_;
    delete class_object_;
    PyGILState_Release(state);
  }

  void setup(crema::Context& c) {
    remembered_.assign(c.num_top(), {});
    const int phase = c.phase() == CREMA_TRAIN ? 0 : 1;
    run_python(where("setup()"), [&] {
      py::module_ types = py::module_::import("types");
      py::object python_param = types.attr("SimpleNamespace")(
          py::arg("module") = module_, py::arg("layer") = class_, py::arg("param_str") = param_str_,
          py::arg("share_in_parallel") = share_in_parallel_);
      py::object param = types.attr("SimpleNamespace")(
          py::arg("name") = name_, py::arg("type") = "Python", py::arg("phase") = phase,
          py::arg("python_param") = python_param);
      // pycaffe's classes derive from caffe.Layer, whose __init__ takes the parameters; a class
      // of its own without __init__ is made without them.
      const bool plain = class_object_->attr("__init__")
                             .is(py::module_::import("builtins").attr("object").attr("__init__"));
      py::object self = plain ? (*class_object_)() : (*class_object_)(param);
      delete self_;  // a second setup starts afresh
      self_ = nullptr;
      self.attr("param_str") = param_str_;
      self.attr("phase") = phase;
      self_ = new py::object(self);
      BlobList bottom(bottom_tensors(c), c.num_bottom(), Stage::kSetup, false);
      BlobList top(top_tensors(c), c.num_top(), Stage::kSetup, true, &remembered_);
      if (py::hasattr(self, "setup")) self.attr("setup")(bottom.list(), top.list());
    });
  }

  void reshape(crema::Context& c) {
    run_python(where("reshape()"), [&] {
      BlobList bottom(bottom_tensors(c), c.num_bottom(), Stage::kReshape, false);
      BlobList top(top_tensors(c), c.num_top(), Stage::kReshape, true);
      if (py::hasattr(*self_, "reshape")) self_->attr("reshape")(bottom.list(), top.list());
    });
    // A top its reshape() left alone keeps its shape: the previous one, or the one setup() gave
    // (Caffe's data layers shape their tops in setup and pass in reshape).
    for (int i = 0; i < c.num_top(); ++i) {
      crema::TensorView t = c.top(i);
      if (t.ndim() >= 0) continue;
      if (t.raw()->prev_ndim > 0)
        t.set_shape(t.previous_shape());
      else if (!remembered_[i].empty())
        t.set_shape(remembered_[i]);
      else
        CREMA_CHECK(false, where("reshape()") << " gave top " << i << " no shape: call top[" << i
                                              << "].reshape(...) in setup() or reshape()");
    }
  }

  void forward_cpu(crema::Context& c) {
    run_python(where("forward()"), [&] {
      BlobList bottom(bottom_tensors(c), c.num_bottom(), Stage::kRun, false);
      BlobList top(top_tensors(c), c.num_top(), Stage::kRun, true);
      self_->attr("forward")(bottom.list(), top.list());
    });
  }

  void backward_cpu(crema::Context& c) {
    run_python(where("backward()"), [&] {
      BlobList top(top_tensors(c), c.num_top(), Stage::kRun, true);
      BlobList bottom(bottom_tensors(c), c.num_bottom(), Stage::kRun, false);
      py::list propagate_down;
      for (int i = 0; i < c.num_bottom(); ++i) propagate_down.append(c.propagate_down(i));
      if (py::hasattr(*self_, "backward"))
        self_->attr("backward")(top.list(), propagate_down, bottom.list());
    });
  }

 private:
  // "pyloss.EuclideanLossLayer.forward()": the host's message names the layer before it.
  std::string where(const std::string& stage) const {
    return module_ + "." + class_ + (stage == "import" ? " (import)" : "." + stage);
  }
  static crema_tensor* bottom_tensors(crema::Context& c) {
    return c.num_bottom() ? c.bottom(0).raw() : nullptr;
  }
  static crema_tensor* top_tensors(crema::Context& c) {
    return c.num_top() ? c.top(0).raw() : nullptr;
  }

  std::string name_, module_, class_, param_str_;
  bool share_in_parallel_;
  // Owned raw, so that they can be left undestroyed after the interpreter has ended.
  py::object* class_object_ = nullptr;
  py::object* self_ = nullptr;
  std::vector<std::vector<int64_t>> remembered_;  // per top: the shape setup() gave it
};

CREMA_EXPORT_PLUGIN("python", "1.0.0", PythonLayer)
