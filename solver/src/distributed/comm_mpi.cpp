// SPDX-License-Identifier: BSD-2-Clause
// The MPI communicator: MPI_COMM_WORLD with MPI_ERRORS_RETURN, so that a failed call becomes an
// exception naming the call and MPI's reason (the command then stops every rank with
// MPI_Abort after logging it) instead of MPI's default of ending the process unexplained.
// Started sums are MPI_Iallreduce requests; MPI moves them only inside MPI calls, so progress()
// tests them. GPU buffers go through NCCL where it is built (comm_nccl.cpp), else through host
// memory (gpu_sum.hpp).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "crema/solver/comm.hpp"
#include "gpu_sum.hpp"

namespace crema {

namespace {

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
  throw std::runtime_error(
      std::string(call) + " failed: " +
      (len > 0 ? std::string(text, static_cast<size_t>(len)) : "MPI error " + std::to_string(rc)) +
      " (another rank may have stopped)");
}

// MPI counts are int: long buffers go in pieces.
constexpr size_t kMaxPiece = size_t{1} << 30;

class Mpi final : public Communicator {
 public:
  Mpi(int* argc, char*** argv) {
    int ready = 0;
    check(MPI_Initialized(&ready), "MPI_Initialized");
    if (!ready) {
      int provided = 0;
      check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    }
    check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    v = v.substr(0, v.find_first_of(",\n"));
    return "MPI (" + v + "), " + std::to_string(size_) + (size_ == 1 ? " rank" : " ranks");
  }

  void allreduce_sum(float* data, size_t count, crema_device device) override {
    if (size_ == 1 || count == 0) return;
    if (device == CREMA_CUDA) return gpu_.allreduce_sum(data, count);
    for (size_t at = 0; at < count; at += kMaxPiece)
      check(MPI_Allreduce(MPI_IN_PLACE, data + at,
                          static_cast<int>(std::min(kMaxPiece, count - at)), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
  }
  void allreduce_sum(double* data, size_t count) override {
    if (size_ == 1 || count == 0) return;
    check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  void start_allreduce_sum(float* data, size_t count, crema_device device) override {
    if (size_ == 1 || count == 0) return;
    // NCCL runs on the compute stream, in order after the kernels that wrote the gradients.
    if (device == CREMA_CUDA) return gpu_.allreduce_sum(data, count);
    for (size_t at = 0; at < count; at += kMaxPiece) {
      requests_.push_back(MPI_REQUEST_NULL);
      check(MPI_Iallreduce(MPI_IN_PLACE, data + at,
                           static_cast<int>(std::min(kMaxPiece, count - at)), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &requests_.back()),
            "MPI_Iallreduce");
    }
  }
  void progress() override {
    if (requests_.empty()) return;
    int done = 0;
    check(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done,
                      MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (done) requests_.clear();
  }
  void wait_all() override {
    if (requests_.empty()) return;
    check(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
          "MPI_Waitall");
    requests_.clear();
  }
  void broadcast(void* data, size_t bytes, int root) override {
    if (size_ == 1 || bytes == 0) return;
    auto* p = static_cast<char*>(data);
    for (size_t at = 0; at < bytes; at += kMaxPiece)
      check(MPI_Bcast(p + at, static_cast<int>(std::min(kMaxPiece, bytes - at)), MPI_BYTE, root,
                      MPI_COMM_WORLD),
            "MPI_Bcast");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(const std::string& message, int code) override {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; should it, end this rank anyway
  }

 private:
  int rank_ = 0, size_ = 1;
  std::vector<MPI_Request> requests_;
  GpuSum gpu_{*this};
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  return std::make_unique<Mpi>(argc, argv);
}

void finalize_mpi() {
  int ready = 0, done = 0;
  MPI_Initialized(&ready);
  MPI_Finalized(&done);
  if (ready && !done) MPI_Finalize();
}

}  // namespace crema
