// SPDX-License-Identifier: BSD-2-Clause
// _crema.Net: a crema Net built from a prototxt (and weights), its blobs, layers and passes.
// pycaffe's conveniences (net.blobs, forward(**inputs), ...) are Python, in crema/net.py. The
// passes release the GIL: a Python layer takes it only while it runs.
#include <optional>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "crema/core/proto_io.hpp"
#include "crema/core/prototxt.hpp"

namespace py = pybind11;

namespace crema::python {

namespace {

std::shared_ptr<NetHandle> make_net(const std::string& model, int phase,
                                    const std::optional<std::string>& weights, int level,
                                    const std::vector<std::string>& stages) {
  if (phase != pb::TRAIN && phase != pb::TEST)
    throw std::invalid_argument("phase must be crema.TRAIN (0) or crema.TEST (1), got " +
                                std::to_string(phase));
  NetOptions opt;
  opt.phase = static_cast<pb::Phase>(phase);
  opt.level = level;
  opt.stages = stages;
  opt.source = model;
  opt.fill_params = !weights.has_value();
  auto handle = std::make_shared<NetHandle>();
  handle->net = std::make_shared<Net>(read_net_file(model), opt);
  if (weights) {
    try {
      handle->net->copy_trained_layers_from(read_weights_file(*weights));
    } catch (const std::exception& e) {
      throw std::runtime_error(*weights + ": " + e.what());
    }
  }
  if (run_mode().gpu) handle->net->set_device(CREMA_CUDA);
  return handle;
}

BlobHandle blob(const std::shared_ptr<NetHandle>& h, const std::string& name) {
  if (!h->net->has_blob(name))
    throw py::key_error("no blob '" + name + "' in net '" + h->net->name() + "'");
  return BlobHandle{h, h->net->blob(name)};
}

int checked_layer(const NetHandle& h, int i) {
  if (i < 0 || i >= h.net->num_layers())
    throw py::index_error("layer " + std::to_string(i) + " of " +
                          std::to_string(h.net->num_layers()));
  return i;
}

}  // namespace

void bind_net(py::module_& m) {
  using H = std::shared_ptr<NetHandle>;
  py::class_<NetHandle, H>(m, "_Net")
      .def(py::init(&make_net), py::arg("model"), py::arg("phase"), py::arg("weights") = py::none(),
           py::arg("level") = 0, py::arg("stages") = std::vector<std::string>{},
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("name", [](const H& h) { return h->net->name(); })
      .def_property_readonly("phase", [](const H& h) { return static_cast<int>(h->net->phase()); })
      .def_property_readonly("needs_reshape", [](const H& h) { return h->needs_reshape; })
      .def("blob_names", [](const H& h) { return h->net->blob_names(); })
      .def("blob", &blob)
      .def("output_names",
           [](const H& h) {
             std::vector<std::string> out;
             for (int i : h->net->output_blob_indices()) out.push_back(h->net->blob_names()[i]);
             return out;
           })
      .def("layer_names", [](const H& h) { return h->net->layer_names(); })
      .def("layer_index", [](const H& h, const std::string& n) { return h->net->layer_index(n); })
      .def("layer_type",
           [](const H& h, int i) { return h->net->layer(checked_layer(*h, i)).type(); })
      .def("layer_params",
           [](const H& h, int i) {
             std::vector<BlobHandle> out;
             for (ParamBlob& p : h->net->layer(checked_layer(*h, i)).params())
               out.push_back(BlobHandle{h, p.tensor.get()});
             return out;
           })
      .def("bottom_names",
           [](const H& h, int i) {
             const pb::LayerParameter& l = h->net->definition().layer(checked_layer(*h, i));
             return std::vector<std::string>(l.bottom().begin(), l.bottom().end());
           })
      .def("top_names",
           [](const H& h, int i) {
             const pb::LayerParameter& l = h->net->definition().layer(checked_layer(*h, i));
             return std::vector<std::string>(l.top().begin(), l.top().end());
           })
      .def(
          "reshape",
          [](const H& h) {
            h->net->reshape();
            h->needs_reshape = false;
          },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "forward_range", [](const H& h, int from, int to) { return h->net->forward(from, to); },
          py::call_guard<py::gil_scoped_release>())
      .def(
          "backward_range", [](const H& h, int from, int to) { h->net->backward(from, to); },
          py::call_guard<py::gil_scoped_release>())
      .def("clear_param_diffs", [](const H& h) { h->net->clear_param_diffs(); })
      .def(
          "copy_from",
          [](const H& h, const std::string& path) {
            try {
              return h->net->copy_trained_layers_from(read_weights_file(path)).summary();
            } catch (const std::exception& e) {
              throw std::runtime_error(path + ": " + e.what());
            }
          },
          py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def(
          "save",
          [](const H& h, const std::string& path) {
            pb::NetParameter out;
            h->net->to_proto(&out);
            write_binary_proto_atomic(path, out);
          },
          py::arg("path"), py::call_guard<py::gil_scoped_release>());
}

}  // namespace crema::python
