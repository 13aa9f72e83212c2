// SPDX-License-Identifier: BSD-2-Clause
// A look at an LMDB's data.mdb before liblmdb maps it. liblmdb trusts the file: a truncated
// file makes it touch mapped pages past the end (SIGBUS), a damaged meta page sends it to page
// numbers that do not exist or are not what it expects (SIGSEGV, or an assertion's abort). This
// reads the two meta pages and the pages on the way to the first record with pread and refuses
// what liblmdb would crash on, naming the file. LMDB keeps no checksums: damage in the other
// pages is found only by reading every record (`crema convert -verify`, docs/RELIABILITY.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace crema::data {

struct LmdbLayout {
  std::string file;         // DIR/data.mdb
  uint64_t file_bytes = 0;  // its size when checked
  uint32_t page_size = 0;
  uint64_t pages = 0;             // pages in use by the newest transaction (last page + 1)
  uint64_t entries = 0;           // records in the main database
  uint64_t txnid = 0;             // the newest transaction
  uint64_t first_key_offset = 0;  // where the first record's key is in the file (0: none)
  uint32_t first_key_size = 0;
};

// Crema reads Caffe's layout, a directory holding data.mdb, not a single-file (MDB_NOSUBDIR)
// LMDB. Throws crema::Error: "cannot open LMDB DIR: ..." when there is none, "LMDB DIR/data.mdb
// is damaged: ..." when liblmdb could not read it safely.
LmdbLayout check_lmdb(const std::string& dir);

// Where liblmdb mapped the file (MDB_envinfo does not say unless MDB_FIXEDMAP): the key that
// MDB_FIRST returned in read transaction `txnid` (mdb_txn_id) less the offset check_lmdb found
// for it. nullptr when the transaction is not the one checked (a writer committed in between):
// then records cannot be checked.
const void* lmdb_map_base(const LmdbLayout& layout, uint64_t txnid, const void* first_key,
                          size_t size);

// Whether [p, p + n) lies in the file's data pages, given the map's base. liblmdb does not
// check that a record's size, read from a page that may be damaged, keeps the record inside
// the file; reading past its end would crash.
bool lmdb_span_in_file(const LmdbLayout& layout, const void* map, const void* p, size_t n);

}  // namespace crema::data
