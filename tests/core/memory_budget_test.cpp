// SPDX-License-Identifier: BSD-2-Clause
// The memory budget: what a net needs is known before anything is allocated, and a net that
// needs more than the limit is refused naming the limit, its source and the largest part.
#include <gtest/gtest.h>

#include "crema/core/memory_budget.hpp"
#include "crema/core/net.hpp"
#include "crema/core/prototxt.hpp"
#include "crema/core/registry.hpp"

namespace crema {
namespace {

pb::NetParameter net_of(const std::string& text) {
  return parse_net_text(text, "m.prototxt", Registry::global());
}

// 4 x 1000 floats of input; InnerProduct 1000 -> 500 (weights 500000, bias 500, top 2000);
// ReLU in place adds nothing.
const char* kNet =
    "name: 'm'\n"
    "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 4 dim: 1000 } } }\n"
    "layer { name: 'ip' type: 'InnerProduct' bottom: 'x' top: 'y' "
    "  inner_product_param { num_output: 500 } }\n"
    "layer { name: 'relu' type: 'ReLU' bottom: 'y' top: 'y' }\n";

TEST(MemoryBudget, NeedCountsEachBufferOnceWithDiffsInTraining) {
  NetOptions test;
  test.phase = pb::TEST;
  const uint64_t data = uint64_t{4} * (4000 + 500000 + 500 + 2000);
  EXPECT_EQ(Net(net_of(kNet), test).memory_needed().bytes, data);
  const MemoryNeed train = Net(net_of(kNet)).memory_needed();
  EXPECT_EQ(train.bytes, 2 * data);
  EXPECT_EQ(train.largest, "parameter 0 of layer 'ip' (InnerProduct)");
  EXPECT_EQ(train.largest_bytes, 2u * 4 * 500000);
}

TEST(MemoryBudget, ANetOverTheLimitIsRefusedBeforeAllocating) {
  NetOptions opt;
  opt.source = "m.prototxt";
  opt.max_memory = 1 << 20;
  try {
    Net n(net_of(kNet), opt);
    FAIL() << "a 4 MB net was built under a 1 MiB limit";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("m.prototxt: the net 'm' in TRAIN needs 3.9 MiB but 1.0 MiB may be used "
                     "(-max_memory)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("parameter 0 of layer 'ip'"), std::string::npos) << m;
  }
  opt.max_memory = 8 << 20;
  EXPECT_NO_THROW(Net(net_of(kNet), opt));
}

TEST(MemoryBudget, LimitTakesTheSmallestSource) {
  const MemoryLimit machine = memory_limit();
  ASSERT_GT(machine.bytes, 0u) << "neither /proc/meminfo nor a cgroup limit was readable";
  const MemoryLimit flag = memory_limit(4096);
  EXPECT_EQ(flag.bytes, 4096u);
  EXPECT_EQ(flag.source, "-max_memory");
  EXPECT_EQ(memory_limit(machine.bytes * 4).bytes, machine.bytes);
}

TEST(MemoryBudget, SizesParseAndPrint) {
  EXPECT_EQ(parse_bytes("8G"), uint64_t{8} << 30);
  EXPECT_EQ(parse_bytes("512M"), uint64_t{512} << 20);
  EXPECT_EQ(parse_bytes("1.5GiB"), uint64_t{3} << 29);
  EXPECT_EQ(parse_bytes("64k"), uint64_t{64} << 10);
  EXPECT_EQ(parse_bytes("1000"), 1000u);
  for (const char* bad : {"", "-1G", "0", "8X", "G", "1e30G"})
    EXPECT_THROW(parse_bytes(bad), std::runtime_error) << bad;
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(format_bytes(12), "12 B");
}

}  // namespace
}  // namespace crema
