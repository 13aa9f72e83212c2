// V1 -> current net upgrade (`layers { type: CONVOLUTION }` to
// `layer { type: "Convolution" }`) and the move of legacy pre-processing
// fields from data-layer params into transform_param.
#include <string>

#include "upgrade_internal.hpp"

namespace crema::upgrade_detail {
namespace {

using google::protobuf::FieldDescriptor;

// Caffe's registered type name for each V1 enum value.
const char* v1_type_name(pb::V1LayerParameter::LayerType type) {
  using L = pb::V1LayerParameter;
  switch (type) {
    case L::NONE: return nullptr;
    case L::ABSVAL: return "AbsVal";
    case L::ACCURACY: return "Accuracy";
    case L::ARGMAX: return "ArgMax";
    case L::BNLL: return "BNLL";
    case L::CONCAT: return "Concat";
    case L::CONTRASTIVE_LOSS: return "ContrastiveLoss";
    case L::CONVOLUTION: return "Convolution";
    case L::DATA: return "Data";
    case L::DECONVOLUTION: return "Deconvolution";
    case L::DROPOUT: return "Dropout";
    case L::DUMMY_DATA: return "DummyData";
    case L::EUCLIDEAN_LOSS: return "EuclideanLoss";
    case L::ELTWISE: return "Eltwise";
    case L::EXP: return "Exp";
    case L::FLATTEN: return "Flatten";
    case L::HDF5_DATA: return "HDF5Data";
    case L::HDF5_OUTPUT: return "HDF5Output";
    case L::HINGE_LOSS: return "HingeLoss";
    case L::IM2COL: return "Im2col";
    case L::IMAGE_DATA: return "ImageData";
    case L::INFOGAIN_LOSS: return "InfogainLoss";
    case L::INNER_PRODUCT: return "InnerProduct";
    case L::LRN: return "LRN";
    case L::MEMORY_DATA: return "MemoryData";
    case L::MULTINOMIAL_LOGISTIC_LOSS: return "MultinomialLogisticLoss";
    case L::MVN: return "MVN";
    case L::POOLING: return "Pooling";
    case L::POWER: return "Power";
    case L::RELU: return "ReLU";
    case L::SIGMOID: return "Sigmoid";
    case L::SIGMOID_CROSS_ENTROPY_LOSS: return "SigmoidCrossEntropyLoss";
    case L::SILENCE: return "Silence";
    case L::SOFTMAX: return "Softmax";
    case L::SOFTMAX_LOSS: return "SoftmaxWithLoss";
    case L::SPLIT: return "Split";
    case L::SLICE: return "Slice";
    case L::TANH: return "TanH";
    case L::WINDOW_DATA: return "WindowData";
    case L::THRESHOLD: return "Threshold";
  }
  return nullptr;
}

pb::ParamSpec* param_at(pb::LayerParameter* layer, int i) {
  while (layer->param_size() <= i) layer->add_param();
  return layer->mutable_param(i);
}

// Converts one V1 layer into `out`, stealing its blobs and sub-messages.
void upgrade_v1_layer(pb::V1LayerParameter* v1, pb::LayerParameter* out,
                      int index, const std::string& source) {
  const std::string& name = v1->name();
  if (v1->has_layer()) {
    fail_layer(source, "layers", index, name,
               "V1 layer still carries a V0 `layer` payload");
  }
  const char* type = v1_type_name(v1->type());
  if (!v1->has_type() || type == nullptr) {
    fail_layer(source, "layers", index, name, "V1 layer has no type");
  }
  out->set_type(type);
  if (v1->has_name()) out->set_name(name);
  out->mutable_bottom()->Swap(v1->mutable_bottom());
  out->mutable_top()->Swap(v1->mutable_top());
  out->mutable_include()->Swap(v1->mutable_include());
  out->mutable_exclude()->Swap(v1->mutable_exclude());
  out->mutable_blobs()->Swap(v1->mutable_blobs());
  out->mutable_loss_weight()->Swap(v1->mutable_loss_weight());

  // Per-blob settings become one ParamSpec per blob.
  for (int i = 0; i < v1->param_size(); ++i) {
    param_at(out, i)->set_name(v1->param(i));
  }
  for (int i = 0; i < v1->blob_share_mode_size(); ++i) {
    param_at(out, i)->set_share_mode(
        v1->blob_share_mode(i) == pb::V1LayerParameter::PERMISSIVE
            ? pb::ParamSpec::PERMISSIVE
            : pb::ParamSpec::STRICT);
  }
  for (int i = 0; i < v1->blobs_lr_size(); ++i) {
    param_at(out, i)->set_lr_mult(v1->blobs_lr(i));
  }
  for (int i = 0; i < v1->weight_decay_size(); ++i) {
    param_at(out, i)->set_decay_mult(v1->weight_decay(i));
  }

  // Every singular message field of V1LayerParameter (the *_param blocks,
  // transform_param, loss_param) has a same-named, same-typed field in
  // LayerParameter; matching by name keeps this list from going stale.
  const auto* v1_desc = pb::V1LayerParameter::descriptor();
  const auto* v1_refl = pb::V1LayerParameter::GetReflection();
  const auto* out_desc = pb::LayerParameter::descriptor();
  const auto* out_refl = pb::LayerParameter::GetReflection();
  for (int f = 0; f < v1_desc->field_count(); ++f) {
    const FieldDescriptor* from = v1_desc->field(f);
    if (from->is_repeated() ||
        from->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        from->name() == "layer" || !v1_refl->HasField(*v1, from)) {
      continue;
    }
    const FieldDescriptor* to = out_desc->FindFieldByName(from->name());
    if (to == nullptr || to->message_type() != from->message_type()) {
      fail_layer(source, "layers", index, name,
                 "no current equivalent of V1 field '" + from->name() + "'");
    }
    google::protobuf::Message* dst = out_refl->MutableMessage(out, to);
    dst->GetReflection()->Swap(dst, v1_refl->MutableMessage(v1, from));
  }
}

template <typename Param>
bool has_legacy_transform(const Param& p) {
  return p.has_scale() || p.has_mean_file() || p.has_crop_size() ||
         p.has_mirror();
}

// Moves the legacy pre-processing fields of a data-layer param into
// transform_param.  A differing value already in transform_param is a
// conflict Caffe would resolve silently; refuse it instead.
template <typename Param, typename Fail>
void move_to_transform(Param* p, pb::LayerParameter* layer, const Fail& fail) {
  if (!has_legacy_transform(*p)) return;
  pb::TransformationParameter* t = layer->mutable_transform_param();
  if (p->has_scale()) {
    if (t->has_scale() && t->scale() != p->scale()) {
      fail("legacy 'scale' conflicts with transform_param.scale");
    }
    t->set_scale(p->scale());
    p->clear_scale();
  }
  if (p->has_mean_file()) {
    if (t->has_mean_file() && t->mean_file() != p->mean_file()) {
      fail("legacy 'mean_file' conflicts with transform_param.mean_file");
    }
    t->set_mean_file(p->mean_file());
    p->clear_mean_file();
  }
  if (p->has_crop_size()) {
    if (t->has_crop_size() && t->crop_size() != p->crop_size()) {
      fail("legacy 'crop_size' conflicts with transform_param.crop_size");
    }
    t->set_crop_size(p->crop_size());
    p->clear_crop_size();
  }
  if (p->has_mirror()) {
    if (t->has_mirror() && t->mirror() != p->mirror()) {
      fail("legacy 'mirror' conflicts with transform_param.mirror");
    }
    t->set_mirror(p->mirror());
    p->clear_mirror();
  }
}

}  // namespace

bool needs_v1_upgrade(const pb::NetParameter& net) {
  return net.layers_size() > 0;
}

void upgrade_v1_to_v2(pb::NetParameter* net, const std::string& source) {
  if (net->layer_size() > 0) {
    fail_net(source, "net mixes legacy V1 `layers` entries with current "
                     "`layer` entries");
  }
  google::protobuf::RepeatedPtrField<pb::V1LayerParameter> old;
  old.Swap(net->mutable_layers());
  for (int i = 0; i < old.size(); ++i) {
    upgrade_v1_layer(old.Mutable(i), net->add_layer(), i, source);
  }
}

bool needs_data_upgrade(const pb::NetParameter& net) {
  for (const pb::LayerParameter& l : net.layer()) {
    if ((l.type() == "Data" && has_legacy_transform(l.data_param())) ||
        (l.type() == "ImageData" &&
         has_legacy_transform(l.image_data_param())) ||
        (l.type() == "WindowData" &&
         has_legacy_transform(l.window_data_param()))) {
      return true;
    }
  }
  return false;
}

void upgrade_data_transform(pb::NetParameter* net, const std::string& source) {
  for (int i = 0; i < net->layer_size(); ++i) {
    pb::LayerParameter* l = net->mutable_layer(i);
    const auto fail = [&](const std::string& what) {
      fail_layer(source, "layer", i, l->name(), what);
    };
    if (l->type() == "Data" && l->has_data_param()) {
      move_to_transform(l->mutable_data_param(), l, fail);
    } else if (l->type() == "ImageData" && l->has_image_data_param()) {
      move_to_transform(l->mutable_image_data_param(), l, fail);
    } else if (l->type() == "WindowData" && l->has_window_data_param()) {
      move_to_transform(l->mutable_window_data_param(), l, fail);
    }
  }
}

}  // namespace crema::upgrade_detail
