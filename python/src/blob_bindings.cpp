// SPDX-License-Identifier: BSD-2-Clause
// Blob: pycaffe's view of one tensor. .data and .diff are numpy arrays over crema's host memory
// (no copy; writes reach the net), made afresh on each access as pycaffe does, so that a GPU
// net's tensor is brought to the host first. Each array keeps its blob, and so its net, alive.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "crema/core/precision.hpp"

namespace py = pybind11;

namespace crema::python {

namespace {

py::array host_view(const py::object& self, bool diff) {
  auto& b = self.cast<BlobHandle&>();
  const Shape& shape = b.tensor->shape();
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  std::vector<py::ssize_t> strides(dims.size());
  py::ssize_t stride = sizeof(float);
  for (size_t i = dims.size(); i-- > 0;) strides[i] = stride, stride *= dims[i];
  if (b.tensor->dtype() != CREMA_FLOAT32) {
    // A blob the net stores in bf16 or fp16 (-precision bf16, fp16 on the GPU) has no fp32
    // memory to view: a read-only fp32 copy of its values.
    py::array_t<float> copy(dims);
    const std::vector<float> values = b.tensor->to_float(diff);
    std::copy(values.begin(), values.end(), copy.mutable_data());
    copy.attr("setflags")(py::arg("write") = false);
    return std::move(copy);
  }
  float* p = diff ? b.tensor->mutable_host_diff() : b.tensor->mutable_host_data();
  if (b.tensor->count() == 0) return py::array_t<float>(dims);  // nothing to view
  return py::array(py::dtype::of<float>(), dims, strides, p, self);
}

// blob.data = array: a copy into the tensor, shapes (or at least counts) must match.
void assign(BlobHandle& b, const py::array_t<float, py::array::c_style | py::array::forcecast>& a,
            bool diff) {
  if (a.size() != b.tensor->count())
    throw std::invalid_argument("cannot assign an array of " + std::to_string(a.size()) +
                                " values to a blob of shape " + b.tensor->shape_string());
  if (b.tensor->dtype() != CREMA_FLOAT32)
    throw std::invalid_argument("blob of shape " + b.tensor->shape_string() + " is stored in " +
                                dtype_name(b.tensor->dtype()) +
                                " between layers of this net: it is written by its layers only");
  float* p = diff ? b.tensor->mutable_host_diff() : b.tensor->mutable_host_data();
  std::copy(a.data(), a.data() + a.size(), p);
}

Shape shape_from_args(const py::args& args) {
  Shape s;
  // reshape(2, 3) and reshape((2, 3)) alike, as numpy's reshape.
  py::sequence dims = args.size() == 1 && py::isinstance<py::sequence>(args[0])
                          ? py::reinterpret_borrow<py::sequence>(args[0])
                          : py::reinterpret_borrow<py::sequence>(args);
  for (py::handle d : dims) {
    const auto v = d.cast<int64_t>();
    if (v < 0) throw std::invalid_argument("reshape: negative dimension " + std::to_string(v));
    s.push_back(v);
  }
  return s;
}

int64_t legacy_dim(const BlobHandle& b, int axis) {
  // pycaffe's num/channels/height/width: 1 for axes a blob of fewer dimensions lacks.
  return axis < b.tensor->ndim() ? b.tensor->dim(axis) : 1;
}

}  // namespace

void bind_blob(py::module_& m) {
  py::class_<BlobHandle>(m, "Blob", "A tensor of a net: .data and .diff view its memory")
      .def_property(
          "data", [](const py::object& self) { return host_view(self, false); },
          [](BlobHandle& b, const py::array& a) { assign(b, a, false); })
      .def_property(
          "diff", [](const py::object& self) { return host_view(self, true); },
          [](BlobHandle& b, const py::array& a) { assign(b, a, true); })
      .def_property_readonly("shape",
                             [](const BlobHandle& b) {
                               const Shape& s = b.tensor->shape();
                               return py::tuple(py::cast(std::vector<int64_t>(s.begin(), s.end())));
                             })
      .def_property_readonly("count", [](const BlobHandle& b) { return b.tensor->count(); })
      .def_property_readonly("num", [](const BlobHandle& b) { return legacy_dim(b, 0); })
      .def_property_readonly("channels", [](const BlobHandle& b) { return legacy_dim(b, 1); })
      .def_property_readonly("height", [](const BlobHandle& b) { return legacy_dim(b, 2); })
      .def_property_readonly("width", [](const BlobHandle& b) { return legacy_dim(b, 3); })
      .def(
          "reshape",
          [](BlobHandle& b, const py::args& args) {
            Shape s = shape_from_args(args);
            if (s != b.tensor->shape()) {
              b.tensor->reshape(s);
              b.owner->needs_reshape = true;
            }
          },
          "Reshape the blob (an input, usually); the net reshapes the rest at the next forward.")
      .def("__repr__",
           [](const BlobHandle& b) { return "<crema.Blob " + b.tensor->shape_string() + ">"; });
}

}  // namespace crema::python
