// SPDX-License-Identifier: BSD-2-Clause
// MNISTData: MNIST-format (idx) images and labels, e.g. MNIST or Fashion-MNIST, read into memory
// once (layers/data_common/mnist_idx.cpp) and served in batches by a prefetch thread.
//   tops: data (N,1,H,W) = (pixel - mean) * scale after pad/crop/mirror, label (N)
// TRAIN reshuffles every epoch (unless shuffle: false) from the layer's seed; TEST reads in
// file order. A batch that runs past the last image continues with the next epoch.
#include "crema/layer.hpp"
#include "datasets.hpp"
#include "image_set.hpp"

class MNISTData final : public crema::Layer<MNISTData> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"MNISTData", "mnist_data_param", 1100, "crema.mnist_data.MNISTDataParameter"};
    i.min_bottoms = i.max_bottoms = 0;
    i.min_tops = 1;  // data, and optionally label
    i.max_tops = 2;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }
  explicit MNISTData(const crema::Params& p) : reader_(make_reader(p)) {}
  void setup(crema::Context& c) { reader_.setup(c); }
  void reshape(crema::Context& c) { reader_.reshape(c); }
  void forward_cpu(crema::Context& c) { reader_.forward(c); }

 private:
  static crema::data::ImageSetReader make_reader(const crema::Params& p) {
    auto opt = crema::data::ReaderOptions::from_params(p, "mnist_data_param", "MNISTData");
    const std::string dir = p.get<std::string>("mnist_data_param.source");
    const std::string split = p.get<std::string>("mnist_data_param.split");
    auto [images, labels] = crema::data::find_mnist_files(dir, split);
    return crema::data::ImageSetReader(crema::data::load_mnist(images, labels, opt.max_images),
                                       opt, "MNIST split '" + split + "' of " + dir);
  }
  crema::data::ImageSetReader reader_;
};

CREMA_EXPORT_PLUGIN("mnist_data", "1.0.0", MNISTData)
