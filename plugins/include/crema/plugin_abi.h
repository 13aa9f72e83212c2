/* SPDX-License-Identifier: BSD-2-Clause
 *
 * crema's plugin boundary: the only thing a layer plugin and the host share.
 *
 * Only C types cross it: fixed-width integers, const char*, plain structs, function pointers and
 * opaque handles. No exceptions and no C++ ABI: every plugin callback returns a crema_status and
 * reports detail through crema_host.set_error(). Every struct starts with struct_size and only
 * grows at its end; NULL function pointers mean "not provided". The host reads only the prefix of
 * a plugin struct that its struct_size covers.
 *
 * Versioning: a plugin is refused when its abi_major differs from the host's, or when its
 * abi_minor_required is above the host's CREMA_ABI_MINOR. Plugins record the OLDEST minor whose
 * features they use, not the minor of the headers they were built with.
 *
 * Ownership: the host owns every tensor (bottoms, tops, parameter blobs), the parameter messages
 * (read through the host's getters) and all memory handed across; a plugin owns only its `self`.
 */
#ifndef CREMA_PLUGIN_ABI_H
#define CREMA_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CREMA_ABI_MAJOR 1
#define CREMA_ABI_MINOR 8
#define CREMA_MAX_DIMS 8
#define CREMA_ENTRY_SYMBOL "crema_plugin_entry"

typedef enum crema_status { CREMA_OK = 0, CREMA_ERROR = 1 } crema_status;
/* Element types. A layer may compute in a narrower type (crema_exec.math); a bottom or top is
 * stored in one (its dtype, data and diff alike) only where the layer declared that storage
 * type for the device (crema_layer_ext.cpu_storage, minor 5): otherwise every tensor a layer
 * sees is FLOAT32. BFLOAT16 tensors hold uint16_t values, the upper halves of fp32 patterns. */
typedef enum crema_dtype { CREMA_FLOAT32 = 0, CREMA_BFLOAT16 = 1, CREMA_FLOAT16 = 2 } crema_dtype;
#define CREMA_DTYPE_BIT(t) (1u << (t))
/* Minor 6: memory order. A 4-D BFLOAT16 tensor of a layer that declared channels-last
 * (crema_layer_ext.cpu_layouts) may be stored N,H,W,C: its dims stay N,C,H,W (the logical
 * shape) and crema_tensor.dtype carries CREMA_CHANNELS_LAST beside the type, which is
 * dtype & CREMA_DTYPE_MASK. A layer that did not declare it never sees the flag. */
#define CREMA_DTYPE_MASK 0xff
#define CREMA_CHANNELS_LAST 0x100
typedef enum crema_device { CREMA_CPU = 0, CREMA_CUDA = 1 } crema_device;
typedef enum crema_phase { CREMA_TRAIN = 0, CREMA_TEST = 1 } crema_phase;
typedef enum crema_log_level {
  CREMA_LOG_INFO = 0,
  CREMA_LOG_WARNING = 1,
  CREMA_LOG_ERROR = 2
} crema_log_level;

/* A tensor view. `data` and `diff` point to memory on `device`, owned by the host; either may be
 * NULL when the call does not give access to it (e.g. diff during a forward pass). */
typedef struct crema_tensor {
  int32_t dtype;  /* crema_dtype */
  int32_t device; /* crema_device */
  /* Minor 2: in reshape, every top arrives with ndim -1 ("not set by this call"), its current
   * shape in prev_ndim and dims; the layer must set ndim and dims of each (see reshape). */
  int32_t ndim;
  int32_t prev_ndim; /* reshape's tops only (0 elsewhere, and from hosts before minor 2) */
  int64_t dims[CREMA_MAX_DIMS];
  void* data;
  void* diff;
} crema_tensor;

/* Opaque: the layer's LayerParameter, read through crema_host's param_* getters. */
typedef struct crema_params crema_params;
/* Opaque: the list a layer adds its parameter blobs to during setup. */
typedef struct crema_param_decls crema_param_decls;

/* One parameter blob a layer declares in setup(). The host allocates, fills, serialises and (unless
 * is_state) hands it to the solver; the layer only reads data and accumulates diff. */
typedef struct crema_param_spec {
  uint32_t struct_size;
  int32_t ndim;
  int64_t dims[CREMA_MAX_DIMS];
  /* Filler: the FillerParameter message at `filler_path` in the layer's parameters (e.g.
   * "convolution_param.weight_filler") when that field is set; otherwise `default_filler`
   * ("constant", "xavier", "msra", "gaussian", "uniform") with `default_value`. */
  const char* filler_path;
  const char* default_filler;
  float default_value;
  /* Running statistics (BatchNorm's mean/variance): saved with the weights, never updated by the
   * solver, lr_mult/decay_mult ignored. */
  int32_t is_state;
} crema_param_spec;

/* Everything a call may touch. In backward, `top` carries dE/dtop in diff and the layer writes
 * dE/dbottom into bottom diffs (overwriting) for each bottom with propagate_down set, and ADDS
 * parameter gradients into param diffs when params_need_grad is set. */
typedef struct crema_io {
  uint32_t struct_size;
  crema_tensor* bottom;
  int32_t n_bottom;
  crema_tensor* top;
  int32_t n_top;
  crema_tensor* param;
  int32_t n_param;
  const int8_t* propagate_down; /* n_bottom entries, backward only */
  int32_t params_need_grad;     /* backward only */
  /* Minor 1. CPU calls of a layer that absorbed the layers after it (crema_layer_desc.absorb):
   * how many of them this call computes too (0: this layer alone). Their parameter blobs follow
   * this layer's own in `param`, in order; in backward, absorbed_params_need_grad[k] tells
   * whether absorbed layer k's parameters take gradients. Check struct_size before reading. */
  int32_t n_absorbed;
  const int8_t* absorbed_params_need_grad;
} crema_io;

/* Per-call execution context, filled by the host. */
typedef struct crema_exec {
  uint32_t struct_size;
  int32_t phase;        /* crema_phase */
  int32_t device;       /* crema_device the tensors of this call live on */
  int32_t num_threads;  /* the process-wide thread setting */
  uint64_t rng_seed;    /* per layer, derived from the solver's random_seed */
  uint64_t rng_counter; /* increases by one per forward call: (seed, counter) names a stream */
  void* workspace;      /* scratch of the size requested in reshape, on `device` */
  size_t workspace_size;
  void* cuda_stream;   /* cudaStream_t to run on (CUDA calls only) */
  void* cublas_handle; /* cublasHandle_t bound to cuda_stream */
  void* cudnn_handle;  /* cudnnHandle_t bound to cuda_stream, or NULL without cuDNN */
  /* Minor 3 (data-parallel training; check struct_size before reading). This call's process is
   * rank world_rank of world_size training one model together (0 of 1 alone). The solver gives
   * rank r its k-th forward of a step the rng_counter k * world_size + r, so the batches of one
   * step are disjoint across ranks and together are the ones a single process with iter_size
   * world_size reads: a data layer delivers batch rng_counter and, to prefetch, steps by
   * world_size (docs/DISTRIBUTED.md). */
  int32_t world_rank;
  int32_t world_size;
  /* Minor 3: the type this call computes in (crema_dtype): products of bf16/fp16-rounded inputs
   * accumulated in fp32. Always one the layer type declared for the device (crema_layer_ext),
   * else FLOAT32; tensors keep their own dtype. FLOAT32 when struct_size ends before it. */
  int32_t math;
  int32_t reserved_exec;
} crema_exec;

/* Random streams: rng_seed and rng_counter become random numbers through SplitMix64 (Steele, Lea
 * & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014). Value i = 0, 1, ... of
 * the stream with state s is crema_splitmix64(s + (i + 1) * CREMA_SPLITMIX64_GAMMA); a forward
 * call's stream starts from a key such as
 *   crema_splitmix64(rng_seed + crema_splitmix64(rng_counter + CREMA_SPLITMIX64_GAMMA))
 * (Dropout's mask). The host derives rng_seed the same way, and the function is the same in CUDA
 * kernels, so a GPU path draws the CPU path's numbers bit for bit. */
#define CREMA_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull
#ifdef __CUDACC__
#define CREMA_HOST_DEVICE __host__ __device__
#else
#define CREMA_HOST_DEVICE
#endif
/* SplitMix64's output function: a bijection of 64-bit words whose every output bit depends on
 * every input bit. */
static inline CREMA_HOST_DEVICE uint64_t crema_splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Services the host gives every plugin. Pointers the host added in a later minor are absent when
 * struct_size does not cover them. The first five members (struct_size to set_error) keep their
 * place in every ABI major, so that a plugin can tell a host of another major why it refuses. */
typedef struct crema_host {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t reserved;
  /* Records the message of the failing call (copied; thread-local on the host side). */
  void (*set_error)(const char* message);
  void (*log)(int32_t level, const char* message);

  /* Parameter getters. `path` is dot-separated from the LayerParameter root, e.g.
   * "convolution_param.kernel_size", "loss_param.ignore_label", "swish_param.beta"; a repeated
   * message on the way is indexed with [i] ("dummy_data_param.shape[0].dim"). `index` selects an
   * element of a repeated final field (0 otherwise). Unset optional fields give their .proto
   * default. Getters return CREMA_ERROR (with set_error) for a path that does not exist. */
  int32_t (*param_has)(const crema_params* p, const char* path, int32_t* out);
  int32_t (*param_size)(const crema_params* p, const char* path, int32_t* out);
  int32_t (*param_float)(const crema_params* p, const char* path, int32_t index, double* out);
  int32_t (*param_int)(const crema_params* p, const char* path, int32_t index, int64_t* out);
  int32_t (*param_bool)(const crema_params* p, const char* path, int32_t index, int32_t* out);
  /* String fields, and enums by value name. The pointer lives as long as the params. */
  int32_t (*param_string)(const crema_params* p, const char* path, int32_t index, const char** out);
  /* The layer's name, for messages. Lives as long as the params. */
  const char* (*param_layer_name)(const crema_params* p);

  /* Adds a parameter blob; returns its index in crema_io.param. */
  int32_t (*declare_param)(crema_param_decls* decls, const crema_param_spec* spec);

  /* Row-major single-precision GEMM on the host's BLAS:
   * C = alpha * op(A) * op(B) + beta * C, op(A) is MxK, op(B) is KxN. */
  void (*sgemm)(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
                int32_t ldc);
  /* y = alpha * op(A) * x + beta * y, A is MxN row-major. */
  void (*sgemv)(int32_t trans_a, int32_t m, int32_t n, float alpha, const float* a, int32_t lda,
                const float* x, float beta, float* y);
  /* Runs fn over [0, n) split into chunks of at least `grain`, on the host's threads. */
  void (*parallel_for)(int64_t n, int64_t grain, void (*fn)(void* ctx, int64_t begin, int64_t end),
                       void* ctx);
  /* CUDA GEMM (column-major cuBLAS semantics converted for row-major as sgemm above) on the
   * stream of `exec`. NULL in a build without CUDA. */
  int32_t (*gpu_sgemm)(const crema_exec* exec, int32_t trans_a, int32_t trans_b, int32_t m,
                       int32_t n, int32_t k, float alpha, const float* a, int32_t lda,
                       const float* b, int32_t ldb, float beta, float* c, int32_t ldc);
  /* Minor 3, optional (absent or NULL: no such service). Sums `count` floats at `data` (memory on
   * exec->device) in place over the exec->world_size ranks of the run: BatchNorm's synchronised
   * statistics. Every rank must make the same calls in the same order; alone it returns at once.
   * CREMA_ERROR (with set_error) when the reduction failed. */
  int32_t (*allreduce_sum)(const crema_exec* exec, float* data, int64_t count);
  /* Minor 3, optional (absent or NULL: this host or CPU has no bf16 GEMM). sgemm's arguments
   * and result, with bf16 products: A and B rounded to bf16 (nearest even), sums in fp32. */
  void (*gemm_bf16)(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                    const float* a, int32_t lda, const float* b, int32_t ldb, float beta, float* c,
                    int32_t ldc);
  /* Minor 4, optional (absent or NULL where gemm_bf16 is). gemm_bf16 with each operand either
   * fp32, rounded on the way in (a_type / b_type CREMA_FLOAT32), or already bf16 (CREMA_BFLOAT16:
   * uint16_t values, the upper halves of fp32 patterns, read in place with their leading
   * dimension), so that an operand several GEMMs share is rounded once. */
  void (*gemm_bf16_typed)(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                          float alpha, const void* a, int32_t a_type, int32_t lda, const void* b,
                          int32_t b_type, int32_t ldb, float beta, float* c, int32_t ldc);
  /* Minor 4, optional, with gemm_bf16_typed. dst[i] = x[i] rounded to bf16 as gemm_bf16 rounds
   * (nearest even; subnormals to zero). */
  void (*round_bf16)(const float* x, int64_t n, uint16_t* dst);
  /* Minor 5, optional (absent or NULL where gemm_bf16_typed is). gemm_bf16_typed with C fp32 or
   * bf16 (c_type CREMA_BFLOAT16: the fp32 sums rounded once into C, beta applied to C widened),
   * for results bound for a tensor stored in bf16. */
  void (*gemm_bf16_to)(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                       float alpha, const void* a, int32_t a_type, int32_t lda, const void* b,
                       int32_t b_type, int32_t ldb, float beta, void* c, int32_t c_type,
                       int32_t ldc);
} crema_host;

typedef int32_t (*crema_run_fn)(void* self, const crema_exec* exec, crema_io* io);

enum crema_layer_flags {
  CREMA_LAYER_IN_PLACE = 1u << 0,    /* top may be the same tensor as bottom */
  CREMA_LAYER_LOSS = 1u << 1,        /* top 0 gets loss_weight 1 unless the prototxt says */
  CREMA_LAYER_NO_BACKWARD = 1u << 2, /* never propagates (data layers, Accuracy, Silence) */
  CREMA_LAYER_SHARES_DATA = 1u << 3, /* tops alias bottom data (Reshape, Flatten) */
};

/* One layer type. A plugin may provide several. */
typedef struct crema_layer_desc {
  uint32_t struct_size;
  const char* type;       /* prototxt `type`, e.g. "Swish" */
  uint32_t layer_version; /* a prototxt may pin it as type: "Swish@2" */
  /* The parameter block this layer reads, e.g. "swish_param", or NULL. For a block the core's
   * LayerParameter lacks, the plugin's schema must define `param_message` and the host adds the
   * field with `param_field_number` (10000+ for out-of-tree plugins). */
  const char* param_field;
  uint32_t param_field_number;
  const char* param_message; /* full name, e.g. "crema.swish.SwishParameter" */
  int32_t min_bottoms, max_bottoms, min_tops, max_tops; /* -1: unbounded */
  uint32_t flags;                                       /* crema_layer_flags */
  uint32_t no_grad_bottoms; /* bit i: bottom i never gets a gradient (labels) */

  int32_t (*create)(const crema_host* host, const crema_params* params, void** self);
  void (*destroy)(void* self);
  /* Once, with bottom shapes known: declare parameter blobs, validate against shapes. */
  int32_t (*setup)(void* self, const crema_exec* exec, crema_io* io, crema_param_decls* decls);
  /* Whenever bottom shapes change: set top ndim/dims and the workspace bytes wanted. Every top
   * must be set by every call (a layer that keeps a top's shape, as Input does for shapes the
   * user sets, copies prev_ndim and dims), and a top computed in place on a bottom must keep
   * that bottom's shape: otherwise the host fails the call naming the layer and the top. */
  int32_t (*reshape)(void* self, const crema_exec* exec, crema_io* io, size_t* workspace_bytes);
  crema_run_fn forward_cpu, backward_cpu;
  crema_run_fn forward_cuda, backward_cuda; /* NULL: no CUDA path */
  /* Minor 1, optional. After setup the host offers, one at a time and in order, the layers that
   * run next in place on this layer's only top (one bottom and one top, both that tensor, no
   * loss): their type and parameters. Returning 1 accepts: in CPU calls whose io.n_absorbed
   * covers it, this layer computes that layer's forward and backward as well (one pass over the
   * memory instead of several) and the host skips it; 0 declines and ends the offers. The
   * absorbed layers keep their names and parameter blobs; GPU calls always run them alone. */
  int32_t (*absorb)(void* self, const char* next_type, const crema_params* next_params);
} crema_layer_desc;

/* A configuration `crema check-plugin` and the test harness run through the gradient checker:
 * a LayerParameter in prototxt text and the bottom shapes, e.g. "2,3,4,5;2,3,1,1". Its layout
 * is fixed (hosts before minor 2 step through crema_plugin.tests by its size): what grows is
 * crema_test_settings, in an array of its own. */
typedef struct crema_test_config {
  const char* layer_text;
  const char* bottom_shapes;
} crema_test_config;

/* Minor 2. How a test configuration's inputs are drawn (every bottom alike). */
typedef enum crema_test_input {
  CREMA_TEST_INPUT_DEFAULT = 0,  /* gaussian, mean 0, std 1 */
  CREMA_TEST_INPUT_GAUSSIAN = 1, /* mean 0, std input_std */
  CREMA_TEST_INPUT_UNIFORM = 2   /* uniform on [input_lo, input_hi) */
} crema_test_input;

#define CREMA_MAX_KINKS 4

/* Minor 2, optional: how the checker runs one test configuration (crema_plugin.test_settings[i]
 * goes with tests[i]). A zero field means the checker's default. */
typedef struct crema_test_settings {
  uint32_t struct_size; /* the same in every element: the array's stride */
  int32_t input;        /* crema_test_input */
  double input_std;
  double input_lo, input_hi;
  double step;      /* central-difference step (default 1e-2) */
  double threshold; /* relative tolerance (default 1e-2) */
  /* Inputs where the layer is not differentiable (ReLU's 0, a clip's bounds): elements whose
   * input lies within kink_range of one (default: the step, whose probes straddle it) are not
   * probed. */
  uint32_t n_kinks;
  uint32_t reserved;
  double kinks[CREMA_MAX_KINKS];
  double kink_range;
} crema_test_settings;

/* Minor 3: a layer's ONNX form, for `crema export` (docs/ONNX.md). The layer describes itself as
 * a chain of ONNX nodes in the default domain; each node has one output, and the last node's
 * output is the layer's top 0. A node input names a value: */
#define CREMA_ONNX_BOTTOM(i) (i)            /* the layer's bottom i */
#define CREMA_ONNX_PARAM(i) (0x10000 + (i)) /* its parameter blob i, written as an initializer */
#define CREMA_ONNX_CONST(i) (0x20000 + (i)) /* crema_onnx_graph.consts[i], an initializer */
#define CREMA_ONNX_NODE(i) (0x30000 + (i))  /* the output of an earlier node i */
typedef enum crema_onnx_attr_type {
  CREMA_ONNX_INT = 0,    /* i */
  CREMA_ONNX_FLOAT = 1,  /* f */
  CREMA_ONNX_INTS = 2,   /* count values at ints */
  CREMA_ONNX_FLOATS = 3, /* count values at floats */
  CREMA_ONNX_STRING = 4  /* s */
} crema_onnx_attr_type;
typedef struct crema_onnx_attr {
  uint32_t struct_size; /* the array's stride */
  int32_t type;         /* crema_onnx_attr_type */
  const char* name;
  int64_t i;
  double f;
  int32_t count;
  int32_t reserved;
  const int64_t* ints;
  const float* floats;
  const char* s;
} crema_onnx_attr;
typedef struct crema_onnx_node {
  uint32_t struct_size; /* the array's stride */
  int32_t n_inputs;
  const char* op_type;   /* "Tanh", "Mul", ... */
  const int32_t* inputs; /* n_inputs value references (CREMA_ONNX_BOTTOM, ...) */
  int32_t n_attrs;
  int32_t reserved;
  const crema_onnx_attr* attrs;
} crema_onnx_node;
typedef struct crema_onnx_const {
  uint32_t struct_size; /* the array's stride */
  int32_t ndim;         /* 0: a scalar */
  int64_t dims[CREMA_MAX_DIMS];
  const float* data;
} crema_onnx_const;
typedef struct crema_onnx_graph {
  uint32_t struct_size;
  int32_t n_nodes;
  const crema_onnx_node* nodes;
  int32_t n_consts;
  int32_t reserved;
  const crema_onnx_const* consts;
} crema_onnx_graph;

/* Minor 3, optional: what a layer type offers beyond crema_layer_desc (crema_plugin.layer_ext[i]
 * goes with layers[i]). Per-layer-type hooks of later minors are appended here. */
typedef struct crema_layer_ext {
  uint32_t struct_size; /* the same in every element: the array's stride */
  /* Math types besides FLOAT32 each path computes in: CREMA_DTYPE_BIT(CREMA_BFLOAT16) | ... The
   * host asks a layer for a narrower type only where it is declared here. */
  uint32_t cpu_math;
  uint32_t cuda_math;
  uint32_t reserved;
  /* Minor 3, optional (absent or NULL: crema export refuses the layer). The layer's ONNX form:
   * sets *graph to a description that `self` owns and keeps valid until the next call or
   * destroy. io carries the bottom and top shapes (data and diff NULL). CREMA_ERROR (with
   * set_error) for a configuration that has no ONNX form. */
  int32_t (*onnx_export)(void* self, const crema_io* io, const crema_onnx_graph** graph);
  /* Minor 5 (absent when struct_size ends before it: FLOAT32 only). Storage types besides
   * FLOAT32 each path reads and writes its bottoms and tops in (CREMA_DTYPE_BIT(CREMA_BFLOAT16)):
   * the host stores a blob in such a type where its producer and every consumer declared it and
   * the net asks for it (forward_type, -precision), so the layer must take each bottom and top
   * in FLOAT32 or in any type declared here, independently (crema_tensor.dtype says which).
   * Parameter blobs and workspaces stay FLOAT32. Minor 7: cuda_storage may also hold
   * CREMA_DTYPE_BIT(CREMA_FLOAT16) (IEEE binary16; older hosts ignore the bit); cpu_storage takes
   * bf16 only. */
  uint32_t cpu_storage;
  uint32_t cuda_storage;
  /* Minor 6 (absent when struct_size ends before it: N,C,H,W only). Memory orders besides
   * N,C,H,W the CPU path takes its 4-D bf16 bottoms and tops in: CREMA_LAYOUT_CHANNELS_LAST
   * (N,H,W,C, flagged in crema_tensor.dtype). The host keeps every 4-D tensor of the layer in
   * one order unless CREMA_LAYOUT_MIXED is set too (then each bottom and top on its own). A blob
   * is stored channels-last only where it is bf16 and its producer and every consumer declared
   * it. */
  uint32_t cpu_layouts;
  /* Minor 8, optional (absent or NULL: none). After setup, the bottoms (bit i for bottom i)
   * whose gradient is top 0's gradient unchanged, e.g. a sum's addends with coefficient 1. The
   * host may give such a bottom top 0's diff memory instead of its own; backward then finds
   * that bottom's diff pointer equal to top 0's and must not write it (it already holds the
   * gradient). The layer must compute every bottom's gradient whether or not it is shared. */
  uint32_t (*passes_gradient)(void* self);
} crema_layer_ext;
#define CREMA_LAYOUT_CHANNELS_LAST 1u
#define CREMA_LAYOUT_MIXED 2u

typedef struct crema_plugin {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor_required;
  uint32_t reserved;
  const char* name;
  const char* version; /* semver, for people and logs */
  /* Serialized google.protobuf.FileDescriptorSet with the plugin's parameter messages; it may
   * import "crema.proto" (FillerParameter, BlobShape). NULL when the plugin has none. */
  const unsigned char* schema;
  size_t schema_size;
  uint32_t n_layers;
  const crema_layer_desc* layers;
  uint32_t n_tests;
  const crema_test_config* tests;
  /* Minor 2, optional: n_tests settings that go with `tests`, or NULL (the checker's defaults).
   * Absent when struct_size does not cover it. */
  const crema_test_settings* test_settings;
  /* Minor 3, optional: n_layers extensions that go with `layers`, or NULL (FLOAT32 only). */
  const crema_layer_ext* layer_ext;
} crema_plugin;

/* The one symbol a plugin exports. Returns NULL (after host->set_error) to refuse loading. */
typedef const crema_plugin* (*crema_plugin_entry_fn)(const crema_host* host);

#ifdef __cplusplus
}
#endif
#endif /* CREMA_PLUGIN_ABI_H */
