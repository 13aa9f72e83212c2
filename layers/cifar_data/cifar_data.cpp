// SPDX-License-Identifier: BSD-2-Clause
// CIFARData: the binary versions of CIFAR-10 and CIFAR-100, read into memory once
// (layers/data_common/cifar_bin.cpp) and served in batches by a prefetch thread.
//   tops: data (N,3,32,32) = (pixel - mean[c]) * scale after pad/crop/mirror, label (N)
// CIFAR-100 gives the fine label unless coarse_label is set. TRAIN reshuffles every epoch
// (unless shuffle: false) from the layer's seed; TEST reads in file order.
#include "crema/layer.hpp"
#include "datasets.hpp"
#include "image_set.hpp"

class CIFARData final : public crema::Layer<CIFARData> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"CIFARData", "cifar_data_param", 1101, "crema.cifar_data.CIFARDataParameter"};
    i.min_bottoms = i.max_bottoms = 0;
    i.min_tops = 1;  // data, and optionally label
    i.max_tops = 2;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }
  explicit CIFARData(const crema::Params& p) : reader_(make_reader(p)) {}
  void setup(crema::Context& c) { reader_.setup(c); }
  void reshape(crema::Context& c) { reader_.reshape(c); }
  void forward_cpu(crema::Context& c) { reader_.forward(c); }

 private:
  static crema::data::ImageSetReader make_reader(const crema::Params& p) {
    auto opt = crema::data::ReaderOptions::from_params(p, "cifar_data_param", "CIFARData");
    crema::data::CifarFormat f;
    f.cifar100 = p.get<std::string>("cifar_data_param.format") == "CIFAR100";
    f.coarse = p.get<bool>("cifar_data_param.coarse_label");
    const std::string source = p.get<std::string>("cifar_data_param.source");
    const std::string split = p.get<std::string>("cifar_data_param.split");
    auto files = crema::data::cifar_files(source, split, f);
    return crema::data::ImageSetReader(crema::data::load_cifar(files, f, opt.max_images), opt,
                                       std::string(f.name()) + " " + split + " of " + source);
  }
  crema::data::ImageSetReader reader_;
};

CREMA_EXPORT_PLUGIN("cifar_data", "1.0.0", CIFARData)
