// SPDX-License-Identifier: BSD-2-Clause
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum TFRecord files frame their
// records with (zlib's crc32 is another polynomial), and TFRecord's "masked" form of it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace crema {

// The CRC-32C of `n` bytes; `crc` continues an earlier call's result over more bytes.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// TFRecord stores ((crc >> 15) | (crc << 17)) + 0xa282ead8: a CRC of data that holds CRCs
// itself would otherwise be weak.
uint32_t mask_crc32c(uint32_t crc);

}  // namespace crema
