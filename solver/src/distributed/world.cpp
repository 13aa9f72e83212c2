// SPDX-License-Identifier: BSD-2-Clause
// world(): the communicator of this process, one process alone until init_world() starts MPI,
// or the calling thread's own where a ScopedWorld set one.
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "crema/core/host.hpp"
#include "crema/solver/comm.hpp"

namespace crema {

#ifdef CREMA_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);  // comm_mpi.cpp
void finalize_mpi();
#endif

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  void allreduce_sum(float*, size_t, crema_device) override {}
  void allreduce_sum(double*, size_t) override {}
  void start_allreduce_sum(float*, size_t, crema_device) override {}
  void progress() override {}
  void wait_all() override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string&, int code) override { std::exit(code); }
};

std::unique_ptr<Communicator>& world_ptr() {
  static std::unique_ptr<Communicator> w = make_single_process_communicator();
  return w;
}

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcess>();
}

namespace {
thread_local Communicator* t_world = nullptr;  // a ScopedWorld's communicator
}  // namespace

Communicator& world() { return t_world ? *t_world : *world_ptr(); }

ScopedWorld::ScopedWorld(Communicator& comm) : saved_(t_world) { t_world = &comm; }
ScopedWorld::~ScopedWorld() { t_world = saved_; }

void route_host_allreduce_to_world() {
  set_host_allreduce([](float* data, int64_t count, crema_device device) {
    world().allreduce_sum(data, static_cast<size_t>(count), device);
  });
}

bool launched_by_mpi() {
  // Open MPI's mpirun, MPICH/Hydra and Intel MPI (PMI), PMIx launchers (srun --mpi=pmix).
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

bool built_with_mpi() {
#ifdef CREMA_WITH_MPI
  return true;
#else
  return false;
#endif
}

void init_world(int* argc, char*** argv) {
  if (world().size() > 1 || !launched_by_mpi()) return;
#ifdef CREMA_WITH_MPI
  world_ptr() = make_mpi_communicator(argc, argv);
  route_host_allreduce_to_world();  // BatchNorm's synchronised statistics
#else
  (void)argc, (void)argv;
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE"); n && std::atoi(n) <= 1) return;
  throw std::runtime_error(
      "started by an MPI launcher, but this crema was built without MPI (CREMA_WITH_MPI=OFF): "
      "install libopenmpi-dev and build again, or run crema train without mpirun");
#endif
}

void finalize_world() {
#ifdef CREMA_WITH_MPI
  if (world().size() > 1 || launched_by_mpi()) {
    set_host_allreduce(nullptr);
    world_ptr() = make_single_process_communicator();
    finalize_mpi();
  }
#endif
}

std::string ranks_differing_from_root(Communicator& comm, uint64_t value) {
  if (comm.size() == 1) return "";
  // Every rank's value in its own slots, as two exact 32-bit halves (doubles hold them exactly).
  std::vector<double> all(2 * static_cast<size_t>(comm.size()), 0.0);
  const size_t mine = 2 * static_cast<size_t>(comm.rank());
  all[mine] = static_cast<double>(value >> 32);
  all[mine + 1] = static_cast<double>(value & 0xffffffffu);
  comm.allreduce_sum(all.data(), all.size());
  std::string differ;
  for (size_t r = 1; r < static_cast<size_t>(comm.size()); ++r)
    if (all[2 * r] != all[0] || all[2 * r + 1] != all[1])
      differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  return differ;
}

}  // namespace crema
