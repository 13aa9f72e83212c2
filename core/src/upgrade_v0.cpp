// V0 -> V1 net upgrade: the flat V0LayerParameter of every `layers` entry is
// spread into the typed *_param messages of V1LayerParameter, and V0
// "padding" layers are folded into the conv/pool layer they feed.
#include <map>
#include <string>

#include "upgrade_internal.hpp"

namespace crema::upgrade_detail {
namespace {

using V1Type = pb::V1LayerParameter::LayerType;

bool v0_type_to_v1(const std::string& type, V1Type* out) {
  static const std::map<std::string, V1Type> kTypes = {
      {"accuracy", pb::V1LayerParameter::ACCURACY},
      {"bnll", pb::V1LayerParameter::BNLL},
      {"concat", pb::V1LayerParameter::CONCAT},
      {"conv", pb::V1LayerParameter::CONVOLUTION},
      {"data", pb::V1LayerParameter::DATA},
      {"dropout", pb::V1LayerParameter::DROPOUT},
      {"euclidean_loss", pb::V1LayerParameter::EUCLIDEAN_LOSS},
      {"flatten", pb::V1LayerParameter::FLATTEN},
      {"hdf5_data", pb::V1LayerParameter::HDF5_DATA},
      {"hdf5_output", pb::V1LayerParameter::HDF5_OUTPUT},
      {"im2col", pb::V1LayerParameter::IM2COL},
      {"images", pb::V1LayerParameter::IMAGE_DATA},
      {"infogain_loss", pb::V1LayerParameter::INFOGAIN_LOSS},
      {"innerproduct", pb::V1LayerParameter::INNER_PRODUCT},
      {"lrn", pb::V1LayerParameter::LRN},
      {"multinomial_logistic_loss",
       pb::V1LayerParameter::MULTINOMIAL_LOGISTIC_LOSS},
      {"pool", pb::V1LayerParameter::POOLING},
      {"relu", pb::V1LayerParameter::RELU},
      {"sigmoid", pb::V1LayerParameter::SIGMOID},
      {"softmax", pb::V1LayerParameter::SOFTMAX},
      {"softmax_loss", pb::V1LayerParameter::SOFTMAX_LOSS},
      {"split", pb::V1LayerParameter::SPLIT},
      {"tanh", pb::V1LayerParameter::TANH},
      {"window_data", pb::V1LayerParameter::WINDOW_DATA},
  };
  const auto it = kTypes.find(type);
  if (it == kTypes.end()) return false;
  *out = it->second;
  return true;
}

pb::PoolingParameter::PoolMethod v0_pool_method(
    pb::V0LayerParameter::PoolMethod m) {
  switch (m) {
    case pb::V0LayerParameter::AVE:
      return pb::PoolingParameter::AVE;
    case pb::V0LayerParameter::STOCHASTIC:
      return pb::PoolingParameter::STOCHASTIC;
    case pb::V0LayerParameter::MAX:
      break;
  }
  return pb::PoolingParameter::MAX;
}

// V0 expressed padding as a separate "padding" layer in front of a conv or
// pool layer.  Caffe folds its pad into that consumer and rewires the
// consumer to the padding layer's input; the padding layer is dropped.
void fold_padding_layers(pb::NetParameter* net, const std::string& source) {
  // Index of the layer that last wrote each blob; -1 for net inputs.
  std::map<std::string, int> producer;
  for (const std::string& in : net->input()) producer[in] = -1;

  auto* layers = net->mutable_layers();
  for (int i = 0; i < layers->size(); ++i) {
    pb::V1LayerParameter* conn = layers->Mutable(i);
    const std::string& type = conn->layer().type();
    for (int j = 0; j < conn->bottom_size(); ++j) {
      const auto it = producer.find(conn->bottom(j));
      if (it == producer.end()) {
        fail_layer(source, "layers", i, conn->layer().name(),
                   "bottom '" + conn->bottom(j) +
                       "' is not a net input nor a top of an earlier layer");
      }
      if (it->second < 0) continue;
      const pb::V1LayerParameter& pad_layer = layers->Get(it->second);
      if (pad_layer.layer().type() != "padding") continue;
      if (type != "conv" && type != "pool") {
        fail_layer(source, "layers", i, conn->layer().name(),
                   "a V0 padding layer can only feed a conv or pool layer, "
                   "not '" + type + "'");
      }
      if (conn->bottom_size() != 1 || pad_layer.bottom_size() != 1 ||
          pad_layer.top_size() != 1) {
        fail_layer(source, "layers", i, conn->layer().name(),
                   "a V0 padding layer and the layer it feeds must each "
                   "have exactly one bottom (and the padding one top)");
      }
      conn->mutable_layer()->set_pad(pad_layer.layer().pad());
      conn->set_bottom(j, pad_layer.bottom(0));
    }
    for (const std::string& top : conn->top()) producer[top] = i;
  }

  google::protobuf::RepeatedPtrField<pb::V1LayerParameter> kept;
  for (pb::V1LayerParameter& l : *layers) {
    if (l.layer().type() != "padding") kept.Add()->Swap(&l);
  }
  layers->Swap(&kept);
}

// Spreads one V0 layer into `out`, stealing its blobs.
void upgrade_v0_layer(pb::V1LayerParameter* conn, pb::V1LayerParameter* out,
                      int index, const std::string& source) {
  pb::V0LayerParameter* v0 = conn->mutable_layer();
  const std::string& type = v0->type();
  const std::string& name = v0->name();
  auto reject = [&](const char* field) {
    fail_layer(source, "layers", index, name,
               std::string("V0 field '") + field +
                   "' has no meaning for layer type '" + type + "'");
  };

  out->mutable_bottom()->Swap(conn->mutable_bottom());
  out->mutable_top()->Swap(conn->mutable_top());
  if (v0->has_name()) out->set_name(name);
  V1Type v1_type;
  if (!v0->has_type()) {
    fail_layer(source, "layers", index, name, "V0 layer has no type");
  }
  if (!v0_type_to_v1(type, &v1_type)) {
    fail_layer(source, "layers", index, name,
               "unknown V0 layer type '" + type + "'");
  }
  out->set_type(v1_type);
  out->mutable_blobs()->Swap(v0->mutable_blobs());
  *out->mutable_blobs_lr() = v0->blobs_lr();
  *out->mutable_weight_decay() = v0->weight_decay();

  const bool conv = type == "conv";
  const bool ip = type == "innerproduct";
  const bool pool = type == "pool";
  if (v0->has_num_output()) {
    if (conv) {
      out->mutable_convolution_param()->set_num_output(v0->num_output());
    } else if (ip) {
      out->mutable_inner_product_param()->set_num_output(v0->num_output());
    } else {
      reject("num_output");
    }
  }
  if (v0->has_biasterm()) {
    if (conv) {
      out->mutable_convolution_param()->set_bias_term(v0->biasterm());
    } else if (ip) {
      out->mutable_inner_product_param()->set_bias_term(v0->biasterm());
    } else {
      reject("biasterm");
    }
  }
  if (v0->has_weight_filler()) {
    if (conv) {
      *out->mutable_convolution_param()->mutable_weight_filler() =
          v0->weight_filler();
    } else if (ip) {
      *out->mutable_inner_product_param()->mutable_weight_filler() =
          v0->weight_filler();
    } else {
      reject("weight_filler");
    }
  }
  if (v0->has_bias_filler()) {
    if (conv) {
      *out->mutable_convolution_param()->mutable_bias_filler() =
          v0->bias_filler();
    } else if (ip) {
      *out->mutable_inner_product_param()->mutable_bias_filler() =
          v0->bias_filler();
    } else {
      reject("bias_filler");
    }
  }
  if (v0->has_pad()) {
    if (conv) {
      out->mutable_convolution_param()->add_pad(v0->pad());
    } else if (pool) {
      out->mutable_pooling_param()->set_pad(v0->pad());
    } else {
      reject("pad");
    }
  }
  if (v0->has_kernelsize()) {
    if (conv) {
      out->mutable_convolution_param()->add_kernel_size(v0->kernelsize());
    } else if (pool) {
      out->mutable_pooling_param()->set_kernel_size(v0->kernelsize());
    } else {
      reject("kernelsize");
    }
  }
  if (v0->has_group()) {
    if (!conv) reject("group");
    out->mutable_convolution_param()->set_group(v0->group());
  }
  if (v0->has_stride()) {
    if (conv) {
      out->mutable_convolution_param()->add_stride(v0->stride());
    } else if (pool) {
      out->mutable_pooling_param()->set_stride(v0->stride());
    } else {
      reject("stride");
    }
  }
  if (v0->has_pool()) {
    if (!pool) reject("pool");
    out->mutable_pooling_param()->set_pool(v0_pool_method(v0->pool()));
  }
  if (v0->has_dropout_ratio()) {
    if (type != "dropout") reject("dropout_ratio");
    out->mutable_dropout_param()->set_dropout_ratio(v0->dropout_ratio());
  }

  const bool lrn = type == "lrn";
  if (v0->has_local_size()) {
    if (!lrn) reject("local_size");
    out->mutable_lrn_param()->set_local_size(v0->local_size());
  }
  if (v0->has_alpha()) {
    if (!lrn) reject("alpha");
    out->mutable_lrn_param()->set_alpha(v0->alpha());
  }
  if (v0->has_beta()) {
    if (!lrn) reject("beta");
    out->mutable_lrn_param()->set_beta(v0->beta());
  }
  if (v0->has_k()) {
    if (!lrn) reject("k");
    out->mutable_lrn_param()->set_k(v0->k());
  }

  const bool data = type == "data";
  const bool hdf5 = type == "hdf5_data";
  const bool images = type == "images";
  const bool window = type == "window_data";
  if (v0->has_source()) {
    if (data) {
      out->mutable_data_param()->set_source(v0->source());
    } else if (hdf5) {
      out->mutable_hdf5_data_param()->set_source(v0->source());
    } else if (images) {
      out->mutable_image_data_param()->set_source(v0->source());
    } else if (window) {
      out->mutable_window_data_param()->set_source(v0->source());
    } else if (type == "infogain_loss") {
      out->mutable_infogain_loss_param()->set_source(v0->source());
    } else {
      reject("source");
    }
  }
  if (v0->has_batchsize()) {
    if (data) {
      out->mutable_data_param()->set_batch_size(v0->batchsize());
    } else if (hdf5) {
      out->mutable_hdf5_data_param()->set_batch_size(v0->batchsize());
    } else if (images) {
      out->mutable_image_data_param()->set_batch_size(v0->batchsize());
    } else if (window) {
      out->mutable_window_data_param()->set_batch_size(v0->batchsize());
    } else {
      reject("batchsize");
    }
  }
  // Pre-processing fields go straight to transform_param, whatever the type.
  if (v0->has_scale()) out->mutable_transform_param()->set_scale(v0->scale());
  if (v0->has_meanfile()) {
    out->mutable_transform_param()->set_mean_file(v0->meanfile());
  }
  if (v0->has_cropsize()) {
    out->mutable_transform_param()->set_crop_size(v0->cropsize());
  }
  if (v0->has_mirror()) {
    out->mutable_transform_param()->set_mirror(v0->mirror());
  }
  if (v0->has_rand_skip()) {
    if (data) {
      out->mutable_data_param()->set_rand_skip(v0->rand_skip());
    } else if (images) {
      out->mutable_image_data_param()->set_rand_skip(v0->rand_skip());
    } else {
      reject("rand_skip");
    }
  }
  if (v0->has_shuffle_images()) {
    if (!images) reject("shuffle_images");
    out->mutable_image_data_param()->set_shuffle(v0->shuffle_images());
  }
  if (v0->has_new_height()) {
    if (!images) reject("new_height");
    out->mutable_image_data_param()->set_new_height(v0->new_height());
  }
  if (v0->has_new_width()) {
    if (!images) reject("new_width");
    out->mutable_image_data_param()->set_new_width(v0->new_width());
  }
  // The V0 reshape layer these belonged to has no V1 counterpart.
  if (v0->has_new_num()) reject("new_num");
  if (v0->has_new_channels()) reject("new_channels");
  if (v0->has_concat_dim()) {
    if (type != "concat") reject("concat_dim");
    out->mutable_concat_param()->set_concat_dim(v0->concat_dim());
  }
  if (v0->has_det_fg_threshold()) {
    if (!window) reject("det_fg_threshold");
    out->mutable_window_data_param()->set_fg_threshold(
        v0->det_fg_threshold());
  }
  if (v0->has_det_bg_threshold()) {
    if (!window) reject("det_bg_threshold");
    out->mutable_window_data_param()->set_bg_threshold(
        v0->det_bg_threshold());
  }
  if (v0->has_det_fg_fraction()) {
    if (!window) reject("det_fg_fraction");
    out->mutable_window_data_param()->set_fg_fraction(v0->det_fg_fraction());
  }
  if (v0->has_det_context_pad()) {
    if (!window) reject("det_context_pad");
    out->mutable_window_data_param()->set_context_pad(v0->det_context_pad());
  }
  if (v0->has_det_crop_mode()) {
    if (!window) reject("det_crop_mode");
    out->mutable_window_data_param()->set_crop_mode(v0->det_crop_mode());
  }
  if (v0->has_hdf5_output_param()) {
    if (type != "hdf5_output") reject("hdf5_output_param");
    *out->mutable_hdf5_output_param() = v0->hdf5_output_param();
  }
}

}  // namespace

bool needs_v0_upgrade(const pb::NetParameter& net) {
  for (const auto& l : net.layers()) {
    if (l.has_layer()) return true;
  }
  return false;
}

void upgrade_v0_to_v1(pb::NetParameter* net, const std::string& source) {
  if (net->layer_size() > 0) {
    fail_net(source, "net mixes V0 `layers { layer {...} }` entries with "
                     "current `layer` entries");
  }
  for (int i = 0; i < net->layers_size(); ++i) {
    const pb::V1LayerParameter& l = net->layers(i);
    if (!l.has_layer()) {
      fail_layer(source, "layers", i, l.name(),
                 "V1 layer in a net whose other layers use the V0 format");
    }
  }
  fold_padding_layers(net, source);

  google::protobuf::RepeatedPtrField<pb::V1LayerParameter> old;
  old.Swap(net->mutable_layers());
  for (int i = 0; i < old.size(); ++i) {
    upgrade_v0_layer(old.Mutable(i), net->add_layers(), i, source);
  }
}

}  // namespace crema::upgrade_detail
