// SPDX-License-Identifier: BSD-2-Clause
// The blobs a Python layer's methods receive (pycaffe's bottom[i] / top[i]): .data and .diff
// are numpy arrays over the memory of this call's tensors. A blob is valid during the call that
// handed it over; kept and used later, it raises instead of reading freed views.
#pragma once
#include <cstdint>
#include <vector>

#include <pybind11/pybind11.h>

#include "crema/plugin_abi.h"

namespace crema_python_layer {

// What a call may do with a blob's shape.
enum class Stage {
  kSetup,    // tops: reshape remembers the shape (Caffe's data layers shape tops in setup)
  kReshape,  // tops: reshape sets the shape crema allocates
  kRun,      // forward/backward: reshape to the same shape only
};

struct LayerBlob {
  crema_tensor* tensor;
  Stage stage;
  bool is_top;
  std::vector<int64_t>* remembered;  // setup's tops: where a reshape is remembered
  bool valid = true;
};

// Registers the LayerBlob Python type (once, GIL held).
void register_layer_blob_type();

// The blobs of one call as a Python list, and a way to retire them when the call ends.
class BlobList {
 public:
  BlobList(crema_tensor* tensors, int n, Stage stage, bool is_top,
           std::vector<std::vector<int64_t>>* remembered = nullptr);
  ~BlobList();  // GIL held: marks every blob invalid
  BlobList(const BlobList&) = delete;
  BlobList& operator=(const BlobList&) = delete;
  const pybind11::list& list() const { return list_; }

 private:
  std::vector<pybind11::object> blobs_;  // the user may change the list, not these
  std::vector<LayerBlob*> states_;       // the C++ objects inside blobs_
  pybind11::list list_;
};

}  // namespace crema_python_layer
