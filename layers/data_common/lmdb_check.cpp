// SPDX-License-Identifier: BSD-2-Clause
// LMDB 0.9's on-disk format (liblmdb's mdb.c, MDB_DATA_VERSION 1) on a 64-bit platform, where
// pgno_t, txnid_t and size_t are 8 bytes. Every page starts with MDB_page's 16-byte header:
//   mp_pgno u64 @0, mp_pad u16 @8, mp_flags u16 @10, mp_lower u16 @12, mp_upper u16 @14
// and pages 0 and 1 carry an MDB_meta right after it (offsets in the page):
//   mm_magic u32 @16, mm_version u32 @20, mm_address @24, mm_mapsize @32,
//   mm_dbs[FREE_DBI] @40, mm_dbs[MAIN_DBI] @88 (MDB_db, 48 bytes each), mm_last_pg @136, mm_txnid @144
// MDB_db: md_pad u32 @0 (the page size, in the free DB), md_flags u16 @4, md_depth u16 @6,
//   md_branch_pages @8, md_leaf_pages @16, md_overflow_pages @24, md_entries @32, md_root @40.
// A transaction commits by writing meta page txnid % 2; readers use the one of higher txnid.
// Tree pages hold, after the header, 2-byte offsets of their nodes (mp_lower ends them); a node:
//   mn_lo u16 @0, mn_hi u16 @2, mn_flags u16 @4, mn_ksize u16 @6, the key @8, then the value
// (in a leaf: its size is lo | hi << 16; in a branch, lo | hi << 16 | flags << 32 is the child).
#include "lmdb_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "crema/layer.hpp"

namespace crema::data {

namespace {

static_assert(sizeof(void*) == 8 && sizeof(size_t) == 8, "the LMDB layout read here is 64-bit's");

constexpr uint32_t kMagic = 0xBEEFC0DE, kDataVersion = 1;
constexpr uint16_t kBranch = 0x01, kLeaf = 0x02, kMeta = 0x08, kLeaf2 = 0x20;  // page flags
constexpr uint16_t kBigData = 0x01, kDupData = 0x04, kDupSort = 0x04;  // node, database flags
// REVERSEKEY | DUPSORT | INTEGERKEY | DUPFIXED | INTEGERDUP | REVERSEDUP
constexpr uint16_t kKnownDbFlags = 0x7E;
constexpr uint64_t kNoRoot = ~uint64_t{0};  // P_INVALID: an empty tree
constexpr size_t kHeader = 16, kMetaEnd = 152, kNode = 8;
constexpr int kCursorStack = 32;  // liblmdb cannot descend deeper trees

template <class T>
T at(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

struct Db {
  uint16_t flags, depth;
  uint64_t branch, leaf, overflow, entries, root;
};
Db db_at(const uint8_t* p, size_t off) {
  return {at<uint16_t>(p, off + 4),  at<uint16_t>(p, off + 6),  at<uint64_t>(p, off + 8),
          at<uint64_t>(p, off + 16), at<uint64_t>(p, off + 24), at<uint64_t>(p, off + 32),
          at<uint64_t>(p, off + 40)};
}

struct Meta {
  uint32_t page_size;
  Db main;
  uint64_t last_pg, txnid;
};

class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  bool read(void* buf, size_t n, uint64_t off) const {
    return ::pread(fd_, buf, n, static_cast<off_t>(off)) == static_cast<ssize_t>(n);
  }

 private:
  int fd_;
};

[[noreturn]] void damaged(const std::string& file, const std::string& what) {
  throw Error("LMDB " + file + " is damaged: " + what +
              "; write it again (crema convert, or the Caffe tool that made it)");
}

// Meta page i (at offset page_size * i) as liblmdb's mdb_env_read_header accepts it.
Meta read_meta(const File& f, const std::string& file, int i, uint64_t offset) {
  uint8_t p[kMetaEnd];
  if (!f.read(p, sizeof p, offset))
    damaged(file, "meta page " + std::to_string(i) + " cannot be read");
  std::ostringstream bad;
  const uint32_t magic = at<uint32_t>(p, 16), version = at<uint32_t>(p, 20);
  if (!(at<uint16_t>(p, 10) & kMeta) || at<uint64_t>(p, 0) != uint64_t(i))
    bad << "page " << i << " is not a meta page (page number " << at<uint64_t>(p, 0) << ", flags 0x"
        << std::hex << at<uint16_t>(p, 10) << ")";
  else if (magic != kMagic)
    bad << "meta page " << i << " has magic 0x" << std::hex << magic << " instead of LMDB's 0x"
        << kMagic;
  else if (version != kDataVersion)
    bad << "meta page " << i << " has format version " << version
        << "; crema reads LMDB 0.9's version " << kDataVersion;
  if (!bad.str().empty()) damaged(file, bad.str());
  return {at<uint32_t>(p, 40), db_at(p, 88), at<uint64_t>(p, 136), at<uint64_t>(p, 144)};
}

bool power_of_two_page(uint32_t s) { return s >= 512 && s <= 65536 && (s & (s - 1)) == 0; }

// One page of the tree as liblmdb will meet it, and the offset of its first node.
uint64_t check_page(const File& f, const std::string& file, const Meta& m, uint64_t pgno,
                    int level) {
  uint8_t h[kHeader + 2];
  const std::string name = (level == 1 ? "the root page " : "page ") + std::to_string(pgno);
  if (!f.read(h, sizeof h, pgno * m.page_size)) damaged(file, name + " cannot be read");
  const uint16_t flags = at<uint16_t>(h, 10), lower = at<uint16_t>(h, 12),
                 upper = at<uint16_t>(h, 14), first = at<uint16_t>(h, 16);
  const bool leaf_level = level == m.main.depth;
  const unsigned keys = lower >= kHeader ? (lower - kHeader) / 2 : 0;
  std::ostringstream bad;
  if (at<uint64_t>(h, 0) != pgno)
    bad << name << " calls itself page " << at<uint64_t>(h, 0);
  else if (leaf_level ? !(flags & (kLeaf | kLeaf2)) : !(flags & kBranch))
    bad << name << " has flags 0x" << std::hex << flags << std::dec << ", not a "
        << (leaf_level ? "leaf" : "branch") << " page as level " << level << " of a tree of depth "
        << m.main.depth << " needs";
  else if (lower < kHeader || lower > upper || upper > m.page_size ||
           keys < (leaf_level ? 1u : 2u))  // liblmdb asserts that a branch has two keys
    bad << name << " has free space " << lower << ".." << upper << " (" << keys
        << " keys) in a page of " << m.page_size << " bytes";
  else if (first < upper || first + kNode > m.page_size)
    bad << name << " puts its first node at " << first << ", outside " << upper << ".."
        << m.page_size;
  if (!bad.str().empty()) damaged(file, bad.str());
  return pgno * m.page_size + first;
}

// Follows the tree's leftmost path, which MDB_FIRST takes, down to the first record: its pages,
// the node of each (a branch node's child page number is its size and flags fields), and the
// first record's key and value (in the page, or the page number of its overflow pages).
void check_first_path(const File& f, const std::string& file, const Meta& m, LmdbLayout& l) {
  uint64_t pgno = m.main.root;
  for (int level = 1;; ++level) {
    const uint64_t node = check_page(f, file, m, pgno, level);
    uint8_t n[kNode];  // check_page saw that it fits in the page
    if (!f.read(n, sizeof n, node)) damaged(file, "a node cannot be read");
    const size_t room = m.page_size - node % m.page_size;  // from the node to the page's end
    const uint16_t lo = at<uint16_t>(n, 0), hi = at<uint16_t>(n, 2), flags = at<uint16_t>(n, 4),
                   ksize = at<uint16_t>(n, 6);
    if (level < m.main.depth) {
      pgno = lo | uint64_t{hi} << 16 | uint64_t{flags} << 32;
      if (pgno < 2 || pgno > m.last_pg)
        damaged(file, "the first node of page " + std::to_string(node / m.page_size) +
                          " points to page " + std::to_string(pgno) + ", outside pages 2.." +
                          std::to_string(m.last_pg));
      continue;
    }
    const uint64_t dsize = lo | uint64_t{hi} << 16;
    const bool big = flags & kBigData;
    uint64_t overflow = 0;
    std::ostringstream bad;
    if ((flags & kDupData) && !(m.main.flags & kDupSort))
      bad << "the first record claims duplicates (node flags 0x" << std::hex << flags << std::dec
          << ") in a database without them";
    else if (kNode + ksize + (big ? 8 : dsize) > room)
      bad << "the first record (key of " << ksize << " bytes, " << (big ? "overflow " : "")
          << "value of " << dsize << " bytes) runs past its page";
    else if (big &&
             (!f.read(&overflow, 8, node + kNode + ksize) || overflow < 2 || overflow > m.last_pg))
      bad << "the first record's value is on page " << overflow << ", outside pages 2.."
          << m.last_pg;
    if (!bad.str().empty()) damaged(file, bad.str());
    l.first_key_offset = node + kNode;
    l.first_key_size = ksize;
    return;
  }
}

}  // namespace

LmdbLayout check_lmdb(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    throw Error("cannot open LMDB " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    throw Error("cannot open LMDB " + dir +
                ": it is not a directory; crema reads an LMDB as "
                "Caffe writes it, a directory holding data.mdb, not a single-file LMDB "
                "(MDB_NOSUBDIR): move the file into a directory, named data.mdb");
  LmdbLayout l;
  l.file = dir + "/data.mdb";
  File f(l.file);
  if (f.fd() < 0 || ::fstat(f.fd(), &st) != 0)
    throw Error("cannot open LMDB " + dir + ": " + l.file + ": " + std::strerror(errno));
  l.file_bytes = static_cast<uint64_t>(st.st_size);
  if (l.file_bytes < uint64_t{2} * 512)
    damaged(l.file,
            "it has " + std::to_string(l.file_bytes) + " bytes, less than its two meta pages");

  // As liblmdb: meta page 1 sits one page (meta 0's page size) after meta 0; both must be valid.
  const Meta m0 = read_meta(f, l.file, 0, 0);
  if (!power_of_two_page(m0.page_size))
    damaged(l.file, "meta page 0 gives a page size of " + std::to_string(m0.page_size) +
                        ", not a power of two in 512..65536");
  if (l.file_bytes < 2ull * m0.page_size)
    damaged(l.file, "it has " + std::to_string(l.file_bytes) +
                        " bytes, less than its two meta pages of " + std::to_string(m0.page_size));
  const Meta m1 = read_meta(f, l.file, 1, m0.page_size);
  if (m1.page_size != m0.page_size)
    damaged(l.file, "its meta pages disagree on the page size (" + std::to_string(m0.page_size) +
                        " and " + std::to_string(m1.page_size) + ")");
  const Meta& m = m1.txnid > m0.txnid ? m1 : m0;  // ties go to page 0, as in liblmdb
  l.page_size = m.page_size;
  l.txnid = m.txnid;
  l.entries = m.main.entries;
  const std::string meta = "its newest meta page (transaction " + std::to_string(m.txnid) + ")";

  // The SIGBUS case: liblmdb maps last_pg + 1 pages and reads any of them without a look at
  // the file's size.
  const uint64_t file_pages = l.file_bytes / m.page_size;
  if (m.last_pg < 1 || m.last_pg >= file_pages)
    damaged(l.file, "truncated: " + meta + " uses pages 0.." + std::to_string(m.last_pg) + " of " +
                        std::to_string(m.page_size) + " bytes, but the file has " +
                        std::to_string(l.file_bytes) + " bytes (" + std::to_string(file_pages) +
                        " whole pages)");
  l.pages = m.last_pg + 1;

  const Db& d = m.main;
  if (d.root == kNoRoot) return l;  // empty: liblmdb reads no page of it
  std::ostringstream bad;
  if (d.root < 2 || d.root > m.last_pg)  // liblmdb asserts root > 1 and cannot find the others
    bad << meta << " puts the root of the records' tree at page " << d.root << ", outside pages 2.."
        << m.last_pg;
  else if (d.flags & ~kKnownDbFlags)
    bad << meta << " gives the records' tree unknown flags 0x" << std::hex << d.flags;
  else if (d.depth < 1 || d.depth > kCursorStack || d.leaf < 1 ||
           (d.depth == 1) != (d.branch == 0) || d.branch + 1 < d.depth || d.branch > m.last_pg ||
           d.leaf > m.last_pg || d.overflow > m.last_pg ||
           d.branch + d.leaf + d.overflow > m.last_pg - 1)
    bad << meta << " describes an impossible tree: depth " << d.depth << ", " << d.branch
        << " branch, " << d.leaf << " leaf and " << d.overflow << " overflow pages in a file of "
        << l.pages << " pages";
  if (!bad.str().empty()) damaged(l.file, bad.str());
  check_first_path(f, l.file, m, l);
  return l;
}

const void* lmdb_map_base(const LmdbLayout& layout, uint64_t txnid, const void* first_key,
                          size_t size) {
  if (txnid != layout.txnid || !layout.first_key_offset || size != layout.first_key_size)
    return nullptr;
  return static_cast<const uint8_t*>(first_key) - layout.first_key_offset;
}

bool lmdb_span_in_file(const LmdbLayout& layout, const void* map, const void* p, size_t n) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(map), at = reinterpret_cast<uintptr_t>(p);
  const uint64_t first = 2ull * layout.page_size;  // past the meta pages
  if (at < base + first) return false;
  const uint64_t off = at - base;
  if (n <= layout.file_bytes && off <= layout.file_bytes - n) return true;
  // A writer may have grown the file since the check: look again before calling it damaged.
  struct stat st;
  return ::stat(layout.file.c_str(), &st) == 0 && n <= uint64_t(st.st_size) &&
         off <= uint64_t(st.st_size) - n;
}

}  // namespace crema::data
