// SPDX-License-Identifier: BSD-2-Clause
#include "layer_blob.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace crema_python_layer {

namespace {

std::vector<int64_t> shape_of(const crema_tensor& t) {
  // A top not yet shaped in this reshape call shows its previous shape, as in Caffe.
  const int n = t.ndim >= 0 ? t.ndim : t.prev_ndim;
  return n > 0 ? std::vector<int64_t>(t.dims, t.dims + n) : std::vector<int64_t>{};
}

LayerBlob& checked(LayerBlob& b) {
  if (!b.valid)
    throw std::runtime_error(
        "this blob was handed to an earlier call of the layer: blobs are valid only during the "
        "call that received them (keep arrays you copied, not blobs)");
  return b;
}

py::array view(const py::object& self, bool diff) {
  LayerBlob& b = checked(self.cast<LayerBlob&>());
  const std::vector<int64_t> shape = shape_of(*b.tensor);
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  float* p = static_cast<float*>(diff ? b.tensor->diff : b.tensor->data);
  if (!p) {
    // setup and reshape get no memory (crema allocates after reshape), nor does a diff this
    // pass does not use: zeros of the right shape, read-only.
    py::array_t<float> zeros(dims);
    std::fill(zeros.mutable_data(), zeros.mutable_data() + zeros.size(), 0.f);
    zeros.attr("setflags")(py::arg("write") = false);
    return std::move(zeros);
  }
  std::vector<py::ssize_t> strides(dims.size());
  py::ssize_t stride = sizeof(float);
  for (size_t i = dims.size(); i-- > 0;) strides[i] = stride, stride *= dims[i];
  return py::array(py::dtype::of<float>(), dims, strides, p, self);
}

void reshape(LayerBlob& b, const py::args& args) {
  checked(b);
  py::sequence seq = args.size() == 1 && py::isinstance<py::sequence>(args[0])
                         ? py::reinterpret_borrow<py::sequence>(args[0])
                         : py::reinterpret_borrow<py::sequence>(args);
  std::vector<int64_t> shape;
  for (py::handle d : seq) {
    const auto v = d.cast<int64_t>();
    if (v < 0) throw std::invalid_argument("reshape: negative dimension " + std::to_string(v));
    shape.push_back(v);
  }
  if (shape.size() > CREMA_MAX_DIMS)
    throw std::invalid_argument("reshape: at most " + std::to_string(CREMA_MAX_DIMS) +
                                " dimensions");
  if (!b.is_top) {
    if (shape == shape_of(*b.tensor)) return;
    throw std::runtime_error("reshape: a bottom is shaped by the layer that produces it");
  }
  if (b.stage == Stage::kRun) {
    if (shape == shape_of(*b.tensor)) return;
    throw std::runtime_error(
        "reshape: a top's shape can change in setup() or reshape() only; crema reshapes a net "
        "when its input shapes change, not at every forward");
  }
  b.tensor->ndim = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) b.tensor->dims[i] = shape[i];
  if (b.remembered) *b.remembered = shape;
}

int64_t legacy_dim(LayerBlob& b, size_t axis) {
  const std::vector<int64_t> s = shape_of(*checked(b).tensor);
  return axis < s.size() ? s[axis] : 1;
}

}  // namespace

void register_layer_blob_type() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A module of the plugin's own; local, so that it never meets another pybind11 type.
    static auto* module =
        new py::module_(py::reinterpret_steal<py::module_>(PyModule_New("crema_python_layer")));
    py::class_<LayerBlob>(*module, "LayerBlob", py::module_local())
        .def_property(
            "data", [](const py::object& self) { return view(self, false); },
            [](const py::object& self, const py::object& value) {
              view(self, false).attr("__setitem__")(py::ellipsis(), value);
            })
        .def_property(
            "diff", [](const py::object& self) { return view(self, true); },
            [](const py::object& self, const py::object& value) {
              view(self, true).attr("__setitem__")(py::ellipsis(), value);
            })
        .def_property_readonly(
            "shape", [](LayerBlob& b) { return py::tuple(py::cast(shape_of(*checked(b).tensor))); })
        .def_property_readonly("count",
                               [](LayerBlob& b) {
                                 int64_t n = 1;
                                 for (int64_t d : shape_of(*checked(b).tensor)) n *= d;
                                 return n;
                               })
        .def_property_readonly("num", [](LayerBlob& b) { return legacy_dim(b, 0); })
        .def_property_readonly("channels", [](LayerBlob& b) { return legacy_dim(b, 1); })
        .def_property_readonly("height", [](LayerBlob& b) { return legacy_dim(b, 2); })
        .def_property_readonly("width", [](LayerBlob& b) { return legacy_dim(b, 3); })
        .def("reshape", &reshape);
  });
}

BlobList::BlobList(crema_tensor* tensors, int n, Stage stage, bool is_top,
                   std::vector<std::vector<int64_t>>* remembered) {
  for (int i = 0; i < n; ++i) {
    blobs_.push_back(
        py::cast(LayerBlob{&tensors[i], stage, is_top, remembered ? &(*remembered)[i] : nullptr}));
    states_.push_back(blobs_.back().cast<LayerBlob*>());
    list_.append(blobs_.back());
  }
}

BlobList::~BlobList() {
  for (LayerBlob* b : states_) b->valid = false;  // alive: blobs_ still holds them
}

}  // namespace crema_python_layer
