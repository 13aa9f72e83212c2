// SPDX-License-Identifier: BSD-2-Clause
#include "net_dot.hpp"

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace crema::tools {

namespace {

std::string quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string cluster_key(const std::string& name) {
  size_t p = name.rfind('/');
  if (p != std::string::npos && p > 0) return name.substr(0, p);
  p = name.find('_');
  if (p != std::string::npos && p > 0) return name.substr(0, p);
  return "";
}

std::string dims(const google::protobuf::RepeatedField<uint32_t>& v, uint32_t h, bool has_h,
                 uint32_t w, bool has_w, uint32_t fallback) {
  uint32_t a = has_h ? h : (v.empty() ? fallback : v.Get(0));
  uint32_t b = has_w ? w : (v.empty() ? fallback : v.Get(v.size() - 1));
  return a == b ? std::to_string(a) + "x" + std::to_string(a)
                : std::to_string(a) + "x" + std::to_string(b);
}

// The second line of a node: the type and what matters of its parameters.
std::string describe(const pb::LayerParameter& l) {
  std::string d = l.type();
  if (l.type() == "Convolution" || l.type() == "Deconvolution" ||
      l.type() == "ConvolutionDepthwise") {
    const auto& c = l.convolution_param();
    d += " " +
         dims(c.kernel_size(), c.kernel_h(), c.has_kernel_h(), c.kernel_w(), c.has_kernel_w(), 0);
    uint32_t s = c.has_stride_h() ? c.stride_h() : (c.stride_size() ? c.stride(0) : 1);
    if (s != 1) d += "/" + std::to_string(s);
    d += ", " + std::to_string(c.num_output());
    if (c.group() != 1) d += " g" + std::to_string(c.group());
  } else if (l.type() == "Pooling") {
    const auto& p = l.pooling_param();
    d += std::string(" ") + pb::PoolingParameter::PoolMethod_Name(p.pool());
    if (p.global_pooling()) {
      d += " global";
    } else {
      uint32_t kh = p.has_kernel_h() ? p.kernel_h() : p.kernel_size();
      uint32_t kw = p.has_kernel_w() ? p.kernel_w() : p.kernel_size();
      uint32_t s = p.has_stride_h() ? p.stride_h() : p.stride();
      d += " " + (kh == kw ? std::to_string(kh) + "x" + std::to_string(kh)
                           : std::to_string(kh) + "x" + std::to_string(kw));
      if (s != 1) d += "/" + std::to_string(s);
    }
  } else if (l.type() == "InnerProduct") {
    d += " " + std::to_string(l.inner_product_param().num_output());
  } else if (l.type() == "Eltwise") {
    const auto& e = l.eltwise_param();
    d += std::string(" ") + pb::EltwiseParameter::EltwiseOp_Name(e.operation());
    if (e.coeff_size()) {
      d += " (";
      for (int i = 0; i < e.coeff_size(); ++i) {
        std::ostringstream c;
        c << e.coeff(i);
        d += (i ? ", " : "") + c.str();
      }
      d += ")";
    }
  } else if (l.type() == "Dropout") {
    std::ostringstream c;
    c << l.dropout_param().dropout_ratio();
    d += " " + c.str();
  }
  return d;
}

const char* fill_for(const std::string& type, bool source) {
  if (source) return "#e0e0e0";
  if (type == "Convolution" || type == "Deconvolution" || type == "ConvolutionDepthwise")
    return "#cfe2f3";
  if (type == "Pooling") return "#d9ead3";
  if (type == "Eltwise") return "#fce5cd";
  if (type == "Concat" || type == "Split" || type == "Slice") return "#fff2cc";
  if (type == "InnerProduct") return "#d9d2e9";
  if (type.find("Loss") != std::string::npos || type == "Accuracy" || type == "Softmax")
    return "#f4cccc";
  return "#ffffff";
}

struct Node {
  std::string id, name, line2, type;
  std::vector<std::string> folded;  // types of the in-place layers folded in, in order
  bool source = false, blob = false;
};

}  // namespace

std::string net_to_dot(const pb::NetParameter& def, const DrawOptions& opt) {
  std::vector<Node> nodes;
  std::map<std::string, int> producer;  // blob -> node
  std::set<std::string> ids;
  std::vector<std::tuple<int, int, std::string>> edges;
  std::set<std::tuple<int, int, std::string>> seen;
  auto new_node = [&](Node n) {
    std::string id = n.name;
    for (int k = 2; ids.count(id); ++k) id = n.name + "#" + std::to_string(k);
    ids.insert(id);
    n.id = id;
    nodes.push_back(std::move(n));
    return static_cast<int>(nodes.size()) - 1;
  };
  auto edge = [&](int from, int to, const std::string& blob) {
    auto e = std::make_tuple(from, to, opt.blob_labels ? blob : std::string());
    if (seen.insert(e).second) edges.push_back(e);
  };
  for (const pb::LayerParameter& l : def.layer()) {
    std::set<std::string> bottoms(l.bottom().begin(), l.bottom().end());
    bool in_place = l.top_size() > 0;
    for (const auto& t : l.top()) in_place = in_place && bottoms.count(t);
    if (in_place && producer.count(l.top(0))) {
      Node& n = nodes[producer.at(l.top(0))];
      if (n.folded.empty() || n.folded.back() != l.type()) n.folded.push_back(l.type());
      for (const auto& b : l.bottom())  // an in-place layer with extra inputs (rare): draw them
        if (!std::count(l.top().begin(), l.top().end(), b) && producer.count(b))
          edge(producer.at(b), producer.at(l.top(0)), b);
      continue;
    }
    Node n;
    n.name = l.name();
    n.type = l.type();
    n.line2 = describe(l);
    n.source = l.bottom_size() == 0;
    int me = -1;
    std::vector<int> from;
    for (const auto& b : l.bottom()) {
      if (!producer.count(b)) {  // a blob nobody produced (legacy net inputs): its own node
        Node bn;
        bn.name = b;
        bn.blob = true;
        producer[b] = new_node(bn);
      }
      from.push_back(producer.at(b));
    }
    me = new_node(n);
    for (int k = 0; k < l.bottom_size(); ++k) edge(from[k], me, l.bottom(k));
    for (const auto& t : l.top()) producer[t] = me;
  }

  // Clusters: a shared name prefix, two or more nodes.
  std::map<std::string, std::vector<int>> clusters;
  std::vector<bool> clustered(nodes.size(), false);
  if (opt.cluster) {
    std::map<std::string, std::vector<int>> by_key;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!nodes[i].blob) {
        std::string k = cluster_key(nodes[i].name);
        if (!k.empty()) by_key[k].push_back(static_cast<int>(i));
      }
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!nodes[i].blob && by_key.count(nodes[i].name) && cluster_key(nodes[i].name).empty())
        by_key[nodes[i].name].push_back(static_cast<int>(i));
    for (auto& [k, members] : by_key)
      if (members.size() >= 2) {
        std::sort(members.begin(), members.end());
        clusters[k] = members;
        for (int m : members) clustered[m] = true;
      }
  }

  std::ostringstream o;
  o << "digraph " << quote(def.name().empty() ? "net" : def.name()) << " {\n";
  o << "  rankdir=" << opt.rankdir << ";\n";
  o << "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n";
  o << "  edge [fontname=\"Helvetica\", fontsize=8];\n";
  auto node_line = [&](const Node& n, const std::string& indent) {
    if (n.blob) {
      o << indent << quote(n.id) << " [label=" << quote(n.name)
        << ", shape=ellipse, fillcolor=\"#e0e0e0\"];\n";
      return;
    }
    std::string label = n.name + "\\n" + n.line2;
    if (!n.folded.empty()) {
      label += "\\n+ ";
      for (size_t k = 0; k < n.folded.size(); ++k) label += (k ? ", " : "") + n.folded[k];
    }
    std::string q = quote(label);
    // quote() escaped the backslashes of our "\n" line breaks: undo that for them.
    for (size_t p = 0; (p = q.find("\\\\n", p)) != std::string::npos;) q.replace(p, 3, "\\n");
    o << indent << quote(n.id) << " [label=" << q << ", fillcolor=\"" << fill_for(n.type, n.source)
      << "\"";
    if (n.type == "Eltwise") o << ", shape=ellipse";
    if (n.source) o << ", shape=box3d";
    o << "];\n";
  };
  for (const auto& [k, members] : clusters) {
    o << "  subgraph " << quote("cluster_" + k) << " {\n";
    o << "    label=" << quote(k)
      << "; style=\"rounded,dashed\"; color=\"#888888\"; fontname=\"Helvetica\";\n";
    for (int m : members) node_line(nodes[m], "    ");
    o << "  }\n";
  }
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!clustered[i]) node_line(nodes[i], "  ");
  for (const auto& [from, to, blob] : edges) {
    o << "  " << quote(nodes[from].id) << " -> " << quote(nodes[to].id);
    if (!blob.empty()) o << " [label=" << quote(blob) << "]";
    o << ";\n";
  }
  o << "}\n";
  return o.str();
}

}  // namespace crema::tools
