// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/host.hpp"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>

#include "crema/core/device.hpp"
#include "crema/core/gemm_bf16.hpp"
#include "crema/core/log.hpp"
#include "crema/core/params_access.hpp"

#ifdef CREMA_WITH_CUDA
#include <cublas_v2.h>
#endif

namespace crema {

namespace {
thread_local std::string t_last_error;
int g_threads = 0;

void set_error(const char* message) { t_last_error = message ? message : ""; }

// Plugins log through the host's logger; their lines name the layer being run (LogSourceScope).
void log(int32_t level, const char* message) {
  LogSourceScope::log_plugin_line(level == 1   ? LogLevel::kWarning
                                  : level == 2 ? LogLevel::kError
                                               : LogLevel::kInfo,
                                  message);
}

int32_t declare_param(crema_param_decls* decls, const crema_param_spec* spec) {
  if (!decls || !spec || spec->ndim < 0 || spec->ndim > CREMA_MAX_DIMS) {
    set_error("declare_param: bad specification");
    return -1;
  }
  crema_param_decls::Decl d;
  d.shape.assign(spec->dims, spec->dims + spec->ndim);
  d.filler_path = spec->filler_path ? spec->filler_path : "";
  d.default_filler = spec->default_filler ? spec->default_filler : "constant";
  d.default_value = spec->default_value;
  d.is_state = spec->is_state != 0;
  decls->decls.push_back(d);
  return static_cast<int32_t>(decls->decls.size() - 1);
}

void sgemm(int32_t ta, int32_t tb, int32_t m, int32_t n, int32_t k, float alpha, const float* a,
           int32_t lda, const float* b, int32_t ldb, float beta, float* c, int32_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemv(int32_t ta, int32_t m, int32_t n, float alpha, const float* a, int32_t lda,
           const float* x, float beta, float* y) {
  cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

void parallel_for(int64_t n, int64_t grain, void (*fn)(void*, int64_t, int64_t), void* ctx) {
  if (grain < 1) grain = 1;
  int64_t threads = num_threads();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(ctx, 0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  const LogSourceScope::Source source = LogSourceScope::current();  // for lines the workers log
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    LogSourceScope scope(source.type, source.name);
    int64_t b = c * step, e = std::min(n, b + step);
    if (b < e) fn(ctx, b, e);
  }
}

#ifdef CREMA_WITH_CUDA
// Row-major C = A*B is column-major C^T = B^T * A^T: swap the operands, keep the flags.
int32_t gpu_sgemm(const crema_exec* exec, int32_t ta, int32_t tb, int32_t m, int32_t n, int32_t k,
                  float alpha, const float* a, int32_t lda, const float* b, int32_t ldb, float beta,
                  float* c, int32_t ldc) {
  cublasHandle_t h = static_cast<cublasHandle_t>(exec->cublas_handle);
  cublasStatus_t s = cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc);
  if (s != CUBLAS_STATUS_SUCCESS) {
    set_error("cublasSgemm failed");
    return CREMA_ERROR;
  }
  return CREMA_OK;
}
#endif

// crema_host.allreduce_sum: the reduction the solver's communicator installed (none: one rank).
HostAllreduce& installed_allreduce() {
  static HostAllreduce fn;
  return fn;
}

int32_t allreduce_sum(const crema_exec* exec, float* data, int64_t count) {
  if (!installed_allreduce() || count <= 0) return CREMA_OK;
  try {
    installed_allreduce()(data, count, static_cast<crema_device>(exec->device));
  } catch (const std::exception& e) {
    set_error(e.what());
    return CREMA_ERROR;
  }
  return CREMA_OK;
}

crema_host make_table() {
  crema_host h{};
  h.struct_size = sizeof(h);
  h.abi_major = CREMA_ABI_MAJOR;
  h.abi_minor = CREMA_ABI_MINOR;
  h.set_error = &set_error;
  h.log = &log;
  h.param_has = &params_access::has;
  h.param_size = &params_access::size;
  h.param_float = &params_access::get_float;
  h.param_int = &params_access::get_int;
  h.param_bool = &params_access::get_bool;
  h.param_string = &params_access::get_string;
  h.param_layer_name = &params_access::layer_name;
  h.declare_param = &declare_param;
  h.sgemm = &sgemm;
  h.sgemv = &sgemv;
  h.parallel_for = &parallel_for;
#ifdef CREMA_WITH_CUDA
  h.gpu_sgemm = &gpu_sgemm;
#endif
  h.allreduce_sum = &allreduce_sum;
  if (bf16_gemm_available()) {
    h.gemm_bf16 = &gemm_bf16;
    h.gemm_bf16_typed = &gemm_bf16_typed;
    h.gemm_bf16_to = &gemm_bf16_to;
    h.round_bf16 = &round_bf16;
  }
  return h;
}
}  // namespace

void set_host_allreduce(HostAllreduce fn) { installed_allreduce() = std::move(fn); }

const crema_host* host_table() {
  static const crema_host table = make_table();
  return &table;
}

std::string take_plugin_error() {
  std::string e;
  e.swap(t_last_error);
  return e.empty() ? "(the plugin gave no message)" : e;
}

void set_num_threads(int n) {
  if (n <= 0) {
    const char* env = std::getenv("CREMA_NUM_THREADS");
    n = env ? std::atoi(env) : 0;
  }
  if (n <= 0) n = omp_get_num_procs();
  g_threads = n;
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
}

int num_threads() {
  if (g_threads == 0) set_num_threads(0);
  return g_threads;
}

}  // namespace crema
