// SPDX-License-Identifier: BSD-2-Clause
// The services the host hands every plugin (crema_host), and the objects behind its opaque
// handles: a layer's parameters and the list of parameter blobs it declares.
#pragma once
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "crema/core/tensor.hpp"
#include "crema/plugin_abi.h"

namespace google::protobuf {
class Message;
}

struct crema_params {
  const google::protobuf::Message* layer;  // the layer's LayerParameter (dynamic, composed schema)
  std::string layer_name;
  std::deque<std::string> strings;  // storage for returned strings and enum names
};

struct crema_param_decls {
  struct Decl {
    crema::Shape shape;
    std::string filler_path, default_filler;
    float default_value = 0;
    bool is_state = false;
  };
  std::vector<Decl> decls;
};

namespace crema {

const crema_host* host_table();
// What crema_host.allreduce_sum runs: sums `count` floats at `data` (on `device`) in place over
// the ranks of a data-parallel run, throwing on failure. The solver installs its communicator's;
// unset (one process), the call returns at once.
using HostAllreduce = std::function<void(float* data, int64_t count, crema_device device)>;
void set_host_allreduce(HostAllreduce fn);
// Takes (and clears) the message the last failing plugin call recorded on this thread.
std::string take_plugin_error();

// One thread setting for the process: OpenBLAS and crema's parallel_for alike.
// 0 means CREMA_NUM_THREADS, else all cores.
void set_num_threads(int n);
int num_threads();

// fn(b, e) over [0, n) in chunks of at least `grain`, on the host's threads (crema_host's
// parallel_for, as plugins reach it through the SDK's crema::parallel_for).
template <class Fn>
void parallel_for_on_host(int64_t n, int64_t grain, const Fn& fn) {
  host_table()->parallel_for(
      n, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<const Fn*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace crema
