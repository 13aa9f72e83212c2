// SPDX-License-Identifier: BSD-2-Clause
// `crema train` under an MPI launcher: MPI is started when mpirun (or srun) started this
// process and shut down on the way out; an error on one rank stops every rank with a message
// naming the rank and the cause; `-gpu all` picks the GPU of this rank on its machine.
#pragma once
#include <functional>
#include <string>

namespace crema::tools {

// Runs `train` as one rank of the run (alone: the process itself); returns its exit status.
int run_as_rank(const std::function<int()>& train);

// This process's rank among those on its machine (0 alone), from the launcher's environment.
int local_rank();

}  // namespace crema::tools
