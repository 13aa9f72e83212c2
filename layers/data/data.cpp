// SPDX-License-Identifier: BSD-2-Clause
// Data: Caffe's Data layer over LMDB. Reads Datum records in key order (wrapping at the end),
// transforms them with transform_param and batches them on a prefetch thread.
//   tops: data (N,C,h,w) = (x - mean[c]) * scale after crop/mirror, label (N)
// x is the Datum's uint8 `data` or, when that is empty, its `float_data`. As in Caffe, the
// order is the database's (no shuffling); rand_skip skips a random 0..rand_skip-1 records first.
// In a data-parallel run rank r of N reads batches r, r + N, ... of that order.
// Encoded (JPEG/PNG) datums and the LEVELDB backend are refused with a message saying why.
// The file is checked before liblmdb maps it (lmdb_check.hpp) and every record's bytes before
// they are decoded; what can still crash liblmdb is in docs/RELIABILITY.md.
#include <lmdb.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "crema/layer.hpp"
#include "datum.hpp"
#include "file_io.hpp"
#include "lmdb_check.hpp"
#include "prefetch.hpp"
#include "transform.hpp"

namespace {

using crema::data::DatumView;

static_assert(MDB_VERSION_MAJOR == 0 && MDB_VERSION_MINOR == 9,
              "lmdb_check.cpp reads the on-disk format of LMDB 0.9");

const char* const kRewrite = "write it again (crema convert, or the Caffe tool that made it)";

// liblmdb's text, and what to do where it found the file damaged.
std::string mdb_reason(int rc) {
  const bool damaged = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID;
  return std::string(mdb_strerror(rc)) +
         (damaged ? std::string(": the database is damaged; ") + kRewrite : "");
}

// NOLINTBEGIN(bugprone-macro-parentheses): `what` is a stream fragment ("Data: " << source_),
// as CREMA_CHECK's message is; in parentheses it would not compile.
#define CHECK_MDB(call, what)                                                 \
  do {                                                                        \
    int mdb_rc_ = (call);                                                     \
    CREMA_CHECK(mdb_rc_ == MDB_SUCCESS, what << ": " << mdb_reason(mdb_rc_)); \
  } while (0)
// NOLINTEND(bugprone-macro-parentheses)

// Runs f, prefixing the messages of the errors it throws (which name the file) with `prefix`.
template <class F>
auto prefixed(const std::string& prefix, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const crema::Error& e) {
    throw crema::Error(prefix + e.what());
  }
}

// The database handles, closed in the right order also when the constructor throws.
struct Lmdb {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_cursor* cursor = nullptr;
  ~Lmdb() {
    if (cursor) mdb_cursor_close(cursor);
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
  }
};

std::string key_string(const MDB_val& k) {
  std::string s(static_cast<const char*>(k.mv_data), k.mv_size);
  for (char& ch : s)
    if (ch < 32 || ch > 126) ch = '?';
  return "'" + s + "'";
}

// liblmdb calls this on a failed internal check (met on damage inside a page) and aborts when it
// returns; leaving by an exception or longjmp would unwind through C code mid-operation, so the
// process still ends, but the message names the database and the way to find the damage.
void report_lmdb_assert(MDB_env* env, const char* msg) {
  const char* path = "?";
  mdb_env_get_path(env, &path);
  std::fprintf(stderr,
               "crema: Data: LMDB %s is damaged: liblmdb failed its internal check (%s) and aborts "
               "the process; `crema convert -verify %s` reports the damage without crashing\n",
               path, msg, path);
}

}  // namespace

class Data final : public crema::Layer<Data> {
 public:
  static crema::LayerInfo info() {
    crema::LayerInfo i{"Data", "data_param"};
    i.min_bottoms = i.max_bottoms = 0;
    i.min_tops = 1;  // data, and optionally label
    i.max_tops = 2;
    i.flags = CREMA_LAYER_NO_BACKWARD;
    return i;
  }

  explicit Data(const crema::Params& p)
      : source_(p.get<std::string>("data_param.source")),
        batch_size_(p.get<int>("data_param.batch_size")),
        rand_skip_(p.get<int64_t>("data_param.rand_skip")),
        depth_(p.get<int>("data_param.prefetch")),
        transform_(crema::data::Transform::from_params(p, 0, "Data")) {
    CREMA_CHECK(!source_.empty(), "Data needs data_param.source");
    CREMA_CHECK(batch_size_ > 0, "Data needs data_param.batch_size > 0");
    CREMA_CHECK(depth_ >= 1 && depth_ <= 64, "data_param.prefetch must be 1..64, not " << depth_);
    // Caffe's default backend is LEVELDB: an unset backend is accepted for an LMDB directory.
    const bool is_lmdb = crema::data::file_exists(source_ + "/data.mdb");
    const std::string how = "convert it with `crema convert` (or Caffe's tools with -backend lmdb) "
                            "and set data_param { backend: LMDB }";
    if (p.get<std::string>("data_param.backend") == "LEVELDB") {
      CREMA_CHECK(!p.has("data_param.backend"),
                  "Data: backend LEVELDB is not supported, crema reads LMDB only: " << how);
      CREMA_CHECK(is_lmdb, "Data: " << source_ << " is no LMDB (it has no data.mdb) and "
                                    << "data_param.backend is unset, which means LEVELDB; crema "
                                    << "reads LMDB only: " << how);
    }
    open();
  }

  void setup(crema::Context& c) {
    if (prefetch_) return;
    train_ = c.training();
    rng_ = crema::data::Rng(crema::data::stream_seed(c.rng_seed(), 2));
    if (rand_skip_ > 0) {
      crema::data::Rng skip_rng(crema::data::stream_seed(c.rng_seed(), 3));
      for (uint64_t s = skip_rng.below(static_cast<uint64_t>(rand_skip_)); s > 0; --s) advance();
    }
    // Data-parallel: rank r of N reads batches r, r + N, ... of the database's order.
    skip_between_ = static_cast<int64_t>(c.world_size() - 1) * batch_size_;
    for (int64_t s = int64_t{c.world_rank()} * batch_size_; s > 0; --s) advance();
    const size_t n = static_cast<size_t>(batch_size_);
    prefetch_ = std::make_unique<crema::data::Prefetcher>(
        n * item_count(), n, depth_, [this](crema::data::Batch& b) { fill(b); });
  }
  void reshape(crema::Context& c) {
    c.top(0).set_shape(
        {batch_size_, channels_, transform_.out_size(height_), transform_.out_size(width_)});
    if (c.num_top() > 1) c.top(1).set_shape({batch_size_});
  }
  void forward_cpu(crema::Context& c) {
    prefetch_->pop(c.top(0).data(), c.num_top() > 1 ? c.top(1).data() : nullptr);
  }

 private:
  // Opens the database read-only and takes the image shape from its first record.
  void open() {
    layout_ = prefixed("Data: ", [&] { return crema::data::check_lmdb(source_); });
    CHECK_MDB(mdb_env_create(&db_.env), "Data: mdb_env_create");
    mdb_env_set_assert(db_.env, report_lmdb_assert);
    // NOTLS: the read transaction is used on the prefetch thread, not the one that opened it.
    int rc = mdb_env_open(db_.env, source_.c_str(), MDB_RDONLY | MDB_NOTLS, 0664);
    if (rc == EACCES)  // a database on read-only storage: no lock file can be made
      rc = mdb_env_open(db_.env, source_.c_str(), MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0664);
    CREMA_CHECK(rc == MDB_SUCCESS, "Data: cannot open LMDB " << source_ << ": " << mdb_reason(rc));
    CHECK_MDB(mdb_txn_begin(db_.env, nullptr, MDB_RDONLY, &db_.txn), "Data: " << source_);
    CHECK_MDB(mdb_dbi_open(db_.txn, nullptr, 0, &db_.dbi), "Data: " << source_);
    CHECK_MDB(mdb_cursor_open(db_.txn, db_.dbi, &db_.cursor), "Data: " << source_);
    rc = mdb_cursor_get(db_.cursor, &key_, &value_, MDB_FIRST);
    CREMA_CHECK(rc != MDB_NOTFOUND, "Data: LMDB " << source_ << " holds no records");
    CHECK_MDB(rc, "Data: reading " << source_);
    map_ = crema::data::lmdb_map_base(layout_, mdb_txn_id(db_.txn), key_.mv_data, key_.mv_size);
    decode();
    channels_ = datum_.channels, height_ = datum_.height, width_ = datum_.width;
    CREMA_CHECK(channels_ > 0 && height_ > 0 && width_ > 0,
                "Data: record " << key_string(key_) << " of " << source_ << " has shape "
                                << channels_ << "x" << height_ << "x" << width_);
    transform_.check(channels_, height_, width_, "LMDB " + source_);
  }
  // Decodes the record under the cursor and checks it against the first one's shape.
  void decode() {
    CREMA_CHECK(!map_ ||
                    (crema::data::lmdb_span_in_file(layout_, map_, key_.mv_data, key_.mv_size) &&
                     crema::data::lmdb_span_in_file(layout_, map_, value_.mv_data, value_.mv_size)),
                "Data: LMDB " << layout_.file << " is damaged: a record's key (" << key_.mv_size
                              << " bytes) or value (" << value_.mv_size
                              << " bytes) lies outside the file; " << kRewrite);
    const std::string where = "record " + key_string(key_) + " of " + source_;
    prefixed("Data: " + where + ": ", [&] {
      crema::data::decode_datum(static_cast<const uint8_t*>(value_.mv_data), value_.mv_size,
                                datum_);
    });
    CREMA_CHECK(!datum_.encoded, "Data: " << where << " is an encoded image (JPEG/PNG); crema's "
                                          << "Data layer reads raw datums only: convert the "
                                          << "images without -encoded");
    if (channels_)
      CREMA_CHECK(datum_.channels == channels_ && datum_.height == height_ &&
                      datum_.width == width_,
                  "Data: " << where << " is " << datum_.channels << "x" << datum_.height << "x"
                           << datum_.width << " but the first record is " << channels_ << "x"
                           << height_ << "x" << width_ << ": all records need one shape");
    const size_t want = static_cast<size_t>(datum_.channels) * datum_.height * datum_.width;
    CREMA_CHECK(datum_.data_size == want ||
                    (datum_.data_size == 0 && datum_.float_data.size() == want),
                "Data: " << where << " has " << datum_.data_size << " data bytes and "
                         << datum_.float_data.size() << " float_data values for its "
                         << datum_.channels << "x" << datum_.height << "x" << datum_.width
                         << " shape: expected " << want << " of one of them");
  }
  void advance() {  // next record, wrapping to the first at the end
    int rc = mdb_cursor_get(db_.cursor, &key_, &value_, MDB_NEXT);
    if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(db_.cursor, &key_, &value_, MDB_FIRST);
    CHECK_MDB(rc, "Data: reading " << source_);
  }
  size_t item_count() const {
    return static_cast<size_t>(channels_) * transform_.out_size(height_) *
           transform_.out_size(width_);
  }
  // Prefetch thread only: the cursor sits on the next record to deliver.
  void fill(crema::data::Batch& b) {
    for (int i = 0; i < batch_size_; ++i) {
      decode();
      float* dst = b.data.data() + i * item_count();
      if (datum_.data_size)
        transform_.apply(datum_.data, channels_, height_, width_, dst, rng_, train_);
      else
        transform_.apply(datum_.float_data.data(), channels_, height_, width_, dst, rng_, train_);
      b.label[static_cast<size_t>(i)] = static_cast<float>(datum_.label);
      advance();
    }
    for (int64_t s = skip_between_; s > 0; --s) advance();  // the other ranks' batches
  }

  std::string source_;
  int64_t batch_size_, rand_skip_;
  int64_t skip_between_ = 0;  // records of the other ranks after each batch
  int depth_;
  crema::data::Transform transform_;
  int channels_ = 0, height_ = 0, width_ = 0;
  bool train_ = true;
  crema::data::Rng rng_;
  crema::data::LmdbLayout layout_;
  Lmdb db_;
  const void* map_ = nullptr;  // where liblmdb mapped the file; null: unknown, records unchecked
  MDB_val key_{}, value_{};
  DatumView datum_;
  std::unique_ptr<crema::data::Prefetcher> prefetch_;  // last: joined before the cursor goes
};

CREMA_EXPORT_PLUGIN("data", "1.0.0", Data)
