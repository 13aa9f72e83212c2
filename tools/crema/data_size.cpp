// SPDX-License-Identifier: BSD-2-Clause
#include "data_size.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include <google/protobuf/dynamic_message.h>

#include "crema/core/host.hpp"
#include "crema/core/params_access.hpp"
#include "crema/core/registry.hpp"
#include "datasets.hpp"
#include "file_io.hpp"
#include "lmdb_check.hpp"

namespace crema::tools {

namespace {

// A layer's parameters as its plugin reads them: through the composed schema, where the
// plugins' blocks (mnist_data_param, cifar_data_param) are fields.
class LayerParams {
 public:
  explicit LayerParams(const pb::LayerParameter& p) {
    Registry& r = Registry::global();
    message_.reset(r.factory().GetPrototype(r.message_type("LayerParameter"))->New());
    message_->ParseFromString(p.SerializeAsString());
    handle_.layer = message_.get();
    handle_.layer_name = p.name();
  }
  std::string text(const char* path) {
    const char* v = nullptr;
    check(params_access::get_string(&handle_, path, 0, &v));
    return v ? v : "";
  }
  int64_t integer(const char* path) {
    int64_t v = 0;
    check(params_access::get_int(&handle_, path, 0, &v));
    return v;
  }

 private:
  static void check(int32_t status) {
    if (status != CREMA_OK) throw std::runtime_error(take_plugin_error());
  }
  std::unique_ptr<google::protobuf::Message> message_;
  crema_params handle_;
};

int64_t capped(int64_t n, int64_t max_images) {
  return max_images > 0 ? std::min(n, max_images) : n;
}

int64_t mnist_images(LayerParams& p) {
  const std::string labels =
      data::find_mnist_files(p.text("mnist_data_param.source"), p.text("mnist_data_param.split"))
          .second;
  data::InputFile f(labels);
  uint8_t header[8];
  f.read_exact(header, sizeof(header), "the idx header of labels (count)");
  if (data::read_be32(header) != 0x00000801)
    throw std::runtime_error(labels + " is no idx labels file");
  return capped(data::read_be32(header + 4), p.integer("mnist_data_param.max_images"));
}

int64_t cifar_images(LayerParams& p) {
  data::CifarFormat format;
  format.cifar100 = p.text("cifar_data_param.format") == "CIFAR100";
  int64_t bytes = 0;
  for (const std::string& path : data::cifar_files(p.text("cifar_data_param.source"),
                                                   p.text("cifar_data_param.split"), format)) {
    if (path.size() < 3 || path.compare(path.size() - 3, 3, ".gz") != 0) {
      bytes += static_cast<int64_t>(std::filesystem::file_size(path));
      continue;
    }
    data::InputFile f(path);  // the uncompressed size is known only by reading it
    std::vector<char> buf(1 << 20);
    for (size_t n; (n = f.read(buf.data(), buf.size())) > 0;) bytes += static_cast<int64_t>(n);
  }
  return capped(bytes / format.record(), p.integer("cifar_data_param.max_images"));
}

}  // namespace

DataSize data_size(Net& net) {
  DataSize out;
  for (int i = 0; i < net.num_layers() && out.layer < 0; ++i)
    if (net.bottoms(i).empty() && !net.tops(i).empty() && net.tops(i)[0]->ndim() > 0) out.layer = i;
  if (out.layer < 0) {
    out.why_unknown = "the net has no data layer";
    return out;
  }
  const LayerInstance& layer = net.layer(out.layer);
  out.batch = net.tops(out.layer)[0]->dim(0);
  try {
    LayerParams params(layer.param());
    if (layer.type() == "MNISTData")
      out.images = mnist_images(params);
    else if (layer.type() == "CIFARData")
      out.images = cifar_images(params);
    else if (layer.type() == "Data")
      out.images =
          static_cast<int64_t>(data::check_lmdb(layer.param().data_param().source()).entries);
    else
      out.why_unknown = "the net's data layer '" + layer.name() + "' (" + layer.type() +
                        ") does not say how many images it holds (crema counts them for "
                        "MNISTData, CIFARData and Data layers)";
  } catch (const std::exception& e) {
    out.images = 0;
    out.why_unknown = "the size of the data of layer '" + layer.name() + "' (" + layer.type() +
                      ") could not be read: " + e.what();
  }
  return out;
}

}  // namespace crema::tools
