// SPDX-License-Identifier: BSD-2-Clause
#include "image_set.hpp"

#include <numeric>

#include "crema/layer.hpp"

namespace crema::data {

EpochOrder::EpochOrder(int64_t n, bool shuffle, uint64_t seed)
    : order_(static_cast<size_t>(n)), shuffle_(shuffle), seed_(seed) {
  CREMA_CHECK(n > 0, "no images to read");
}

int64_t EpochOrder::at(int64_t position) {
  const int64_t n = size(), epoch = position / n;
  if (epoch != epoch_) {
    std::iota(order_.begin(), order_.end(), int64_t{0});
    Rng rng(stream_seed(seed_, static_cast<uint64_t>(epoch)));
    if (shuffle_)  // Fisher-Yates with our own generator: same seed, same order, any platform
      for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[rng.below(i + 1)]);
    epoch_ = epoch;
  }
  return order_[static_cast<size_t>(position % n)];
}

ReaderOptions ReaderOptions::from_params(const crema::Params& p, const std::string& block,
                                         const std::string& type) {
  ReaderOptions o;
  o.batch_size = p.get<int>(block + ".batch_size");
  CREMA_CHECK(o.batch_size > 0, type << " needs " << block << ".batch_size > 0");
  o.shuffle_set = p.has(block + ".shuffle");
  o.shuffle = p.get<bool>(block + ".shuffle");
  o.max_images = p.get<int64_t>(block + ".max_images");
  o.prefetch = p.get<int>(block + ".prefetch");
  CREMA_CHECK(o.prefetch >= 1 && o.prefetch <= 64,
              block << ".prefetch must be 1..64 batches, not " << o.prefetch);
  o.transform = Transform::from_params(p, p.get<int>(block + ".pad"), type);
  return o;
}

ImageSetReader::ImageSetReader(ImageSet set, ReaderOptions options, std::string what)
    : set_(std::move(set)), opt_(std::move(options)), what_(std::move(what)) {
  CREMA_CHECK(set_.size() > 0, what_ << " holds no images");
  opt_.transform.check(set_.channels, set_.height, set_.width, what_);
}

ImageSetReader::~ImageSetReader() { prefetch_.reset(); }  // join before the set goes

void ImageSetReader::setup(crema::Context& c) {
  if (prefetch_) return;
  train_ = c.training();
  const bool shuffle = opt_.shuffle_set ? opt_.shuffle : train_;
  order_ = std::make_unique<EpochOrder>(set_.size(), shuffle, stream_seed(c.rng_seed(), 1));
  aug_seed_ = stream_seed(c.rng_seed(), 2);
  stride_ = static_cast<uint64_t>(c.world_size());
  start_at(static_cast<uint64_t>(c.world_rank()));
}

void ImageSetReader::start_at(uint64_t batch) {
  prefetch_.reset();  // joins the thread before its state changes
  next_fill_ = next_pop_ = batch;
  const size_t n = static_cast<size_t>(opt_.batch_size);
  const size_t item = static_cast<size_t>(set_.channels) * opt_.transform.out_size(set_.height) *
                      opt_.transform.out_size(set_.width);
  prefetch_ =
      std::make_unique<Prefetcher>(n * item, n, opt_.prefetch, [this](Batch& b) { fill(b); });
}

void ImageSetReader::reshape(crema::Context& c) {
  const int64_t n = opt_.batch_size;
  c.top(0).set_shape({n, set_.channels, opt_.transform.out_size(set_.height),
                      opt_.transform.out_size(set_.width)});
  if (c.num_top() > 1) c.top(1).set_shape({n});
}

void ImageSetReader::forward(crema::Context& c) {
  CREMA_CHECK(prefetch_, "forward before setup");
  if (c.rng_counter() != next_pop_) start_at(c.rng_counter());  // a jump: resume or a new pass
  prefetch_->pop(c.top(0).data(), c.num_top() > 1 ? c.top(1).data() : nullptr);
  next_pop_ += stride_;
}

// Runs on the prefetch thread; touches only order_, next_fill_ and the read-only set. Batch k's
// images and augmentation draws depend on k alone.
void ImageSetReader::fill(Batch& b) {
  const int oh = opt_.transform.out_size(set_.height), ow = opt_.transform.out_size(set_.width);
  const int64_t item = int64_t{set_.channels} * oh * ow;
  const uint64_t batch = next_fill_;
  next_fill_ += stride_;
  Rng aug(stream_seed(aug_seed_, batch));
  for (int i = 0; i < opt_.batch_size; ++i) {
    const int64_t k = order_->at(static_cast<int64_t>(batch) * opt_.batch_size + i);
    opt_.transform.apply(set_.pixels.data() + k * set_.image_bytes(), set_.channels, set_.height,
                         set_.width, b.data.data() + i * item, aug, train_);
    b.label[static_cast<size_t>(i)] = set_.labels[static_cast<size_t>(k)];
  }
}

}  // namespace crema::data
