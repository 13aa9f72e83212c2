// SPDX-License-Identifier: BSD-2-Clause
// The shared body of the in-memory data layers (MNISTData, CIFARData): an image set held in
// memory, served in epochs (reshuffled each epoch when shuffling), transformed and batched on
// the prefetch thread. A batch that runs past the end of an epoch continues with the next one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prefetch.hpp"
#include "rng.hpp"
#include "transform.hpp"

namespace crema {
class Context;
class Params;
}  // namespace crema

namespace crema::data {

struct ImageSet {
  int channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // size() * channels * height * width, (N,C,H,W)
  std::vector<float> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return int64_t{channels} * height * width; }
};

// Position p of the endless stream of images is image order(p / n)[p % n]: every epoch has its
// own order, derived from (seed, epoch) alone, so any batch can be produced without replaying
// the ones before it (exact resume after a snapshot).
class EpochOrder {
 public:
  EpochOrder(int64_t n, bool shuffle, uint64_t seed);
  int64_t at(int64_t position);
  int64_t size() const { return static_cast<int64_t>(order_.size()); }

 private:
  std::vector<int64_t> order_;
  int64_t epoch_ = -1;
  bool shuffle_;
  uint64_t seed_;
};

// The fields every in-memory data block has: batch_size, shuffle, max_images, pad, prefetch.
struct ReaderOptions {
  int batch_size = 0;
  bool shuffle_set = false, shuffle = false;  // unset: shuffle in TRAIN only
  int64_t max_images = 0;                     // 0: all
  int prefetch = 3;
  Transform transform;
  static ReaderOptions from_params(const crema::Params& p, const std::string& block,
                                   const std::string& layer_type);
};

class ImageSetReader {
 public:
  ImageSetReader(ImageSet set, ReaderOptions options, std::string what);
  ~ImageSetReader();
  void setup(crema::Context& c);    // starts the prefetch thread with the phase and seed
  void reshape(crema::Context& c);  // tops: data (N,C,h,w), label (N)
  // Delivers batch number c.rng_counter(): the solver names it from the iteration, so a resumed
  // run continues with the batches the uninterrupted run would have seen. In a data-parallel
  // run rank r of N is given batches r, r + N, ... (crema_exec.world_rank): the prefetch thread
  // fills those, so the ranks read disjoint batches of each epoch's order.
  void forward(crema::Context& c);
  const ImageSet& set() const { return set_; }

 private:
  void fill(Batch& b);
  void start_at(uint64_t batch);
  ImageSet set_;
  ReaderOptions opt_;
  std::string what_;  // e.g. "MNIST split 'train' of DIR", for messages
  bool train_ = true;
  std::unique_ptr<EpochOrder> order_;
  uint64_t aug_seed_ = 0;
  uint64_t next_fill_ = 0;                // batch the prefetch thread fills next
  uint64_t next_pop_ = 0;                 // batch the next pop() returns
  uint64_t stride_ = 1;                   // batches between this rank's: the number of ranks
  std::unique_ptr<Prefetcher> prefetch_;  // last: its thread uses the members above
};

}  // namespace crema::data
