// SPDX-License-Identifier: BSD-2-Clause
#include "crema/core/params_access.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

#include "crema/core/host.hpp"

namespace crema::params_access {

namespace pb = google::protobuf;

namespace {

struct Resolved {
  const pb::Message* msg = nullptr;      // message holding the final field
  const pb::FieldDescriptor* field = nullptr;
};

bool fail(const crema_params* p, const std::string& what) {
  std::string m = "layer '" + p->layer_name + "': " + what;
  host_table()->set_error(m.c_str());
  return false;
}

// Walks "a.b[2].c": every segment but the last must be a message field.
bool resolve(const crema_params* p, const char* path, Resolved* r) {
  const pb::Message* msg = p->layer;
  std::string s = path ? path : "";
  size_t pos = 0;
  while (true) {
    size_t dot = s.find('.', pos);
    std::string seg = s.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    int index = -1;
    size_t br = seg.find('[');
    if (br != std::string::npos) {
      index = std::stoi(seg.substr(br + 1));
      seg = seg.substr(0, br);
    }
    const pb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(seg);
    if (!f)
      return fail(p, "parameter path '" + s + "': " + msg->GetDescriptor()->name() +
                         " has no field '" + seg + "'");
    if (dot == std::string::npos) {
      r->msg = msg;
      r->field = f;
      return true;
    }
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE)
      return fail(p, "parameter path '" + s + "': '" + seg + "' is not a message");
    const pb::Reflection* refl = msg->GetReflection();
    if (f->is_repeated()) {
      if (index < 0 || index >= refl->FieldSize(*msg, f))
        return fail(p, "parameter path '" + s + "': index out of range for '" + seg + "'");
      msg = &refl->GetRepeatedMessage(*msg, f, index);
    } else {
      msg = &refl->GetMessage(*msg, f);  // default instance when unset: defaults apply
    }
    pos = dot + 1;
  }
}

bool check_index(const crema_params* p, const Resolved& r, const char* path, int32_t index) {
  if (r.field->is_repeated()) {
    int n = r.msg->GetReflection()->FieldSize(*r.msg, r.field);
    if (index < 0 || index >= n)
      return fail(p, std::string("parameter '") + path + "' has " + std::to_string(n) +
                         " values; asked for index " + std::to_string(index));
  } else if (index != 0) {
    return fail(p, std::string("parameter '") + path + "' is not repeated");
  }
  return true;
}

}  // namespace

int32_t has(const crema_params* p, const char* path, int32_t* out) {
  Resolved r;
  if (!resolve(p, path, &r)) return CREMA_ERROR;
  const pb::Reflection* refl = r.msg->GetReflection();
  *out = r.field->is_repeated() ? refl->FieldSize(*r.msg, r.field) > 0
                                : refl->HasField(*r.msg, r.field);
  return CREMA_OK;
}

int32_t size(const crema_params* p, const char* path, int32_t* out) {
  Resolved r;
  if (!resolve(p, path, &r)) return CREMA_ERROR;
  const pb::Reflection* refl = r.msg->GetReflection();
  *out = r.field->is_repeated() ? refl->FieldSize(*r.msg, r.field)
                                : (refl->HasField(*r.msg, r.field) ? 1 : 0);
  return CREMA_OK;
}

int32_t get_float(const crema_params* p, const char* path, int32_t index, double* out) {
  Resolved r;
  if (!resolve(p, path, &r) || !check_index(p, r, path, index)) return CREMA_ERROR;
  const pb::Reflection* refl = r.msg->GetReflection();
  bool rep = r.field->is_repeated();
  switch (r.field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      *out = rep ? refl->GetRepeatedFloat(*r.msg, r.field, index) : refl->GetFloat(*r.msg, r.field);
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      *out = rep ? refl->GetRepeatedDouble(*r.msg, r.field, index)
                 : refl->GetDouble(*r.msg, r.field);
      return CREMA_OK;
    default: {
      int64_t v = 0;
      if (get_int(p, path, index, &v) != CREMA_OK) return CREMA_ERROR;
      *out = static_cast<double>(v);
      return CREMA_OK;
    }
  }
}

int32_t get_int(const crema_params* p, const char* path, int32_t index, int64_t* out) {
  Resolved r;
  if (!resolve(p, path, &r) || !check_index(p, r, path, index)) return CREMA_ERROR;
  const pb::Reflection* refl = r.msg->GetReflection();
  bool rep = r.field->is_repeated();
  const pb::Message& m = *r.msg;
  switch (r.field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      *out = rep ? refl->GetRepeatedInt32(m, r.field, index) : refl->GetInt32(m, r.field);
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      *out = rep ? refl->GetRepeatedInt64(m, r.field, index) : refl->GetInt64(m, r.field);
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      *out = rep ? refl->GetRepeatedUInt32(m, r.field, index) : refl->GetUInt32(m, r.field);
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      *out = static_cast<int64_t>(rep ? refl->GetRepeatedUInt64(m, r.field, index)
                                      : refl->GetUInt64(m, r.field));
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      *out = rep ? refl->GetRepeatedBool(m, r.field, index) : refl->GetBool(m, r.field);
      return CREMA_OK;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      *out = rep ? refl->GetRepeatedEnumValue(m, r.field, index) : refl->GetEnumValue(m, r.field);
      return CREMA_OK;
    default:
      fail(p, std::string("parameter '") + path + "' is a " + r.field->cpp_type_name() +
                  ", not a number");
      return CREMA_ERROR;
  }
}

int32_t get_bool(const crema_params* p, const char* path, int32_t index, int32_t* out) {
  int64_t v = 0;
  if (get_int(p, path, index, &v) != CREMA_OK) return CREMA_ERROR;
  *out = v != 0;
  return CREMA_OK;
}

int32_t get_string(const crema_params* p, const char* path, int32_t index, const char** out) {
  Resolved r;
  if (!resolve(p, path, &r) || !check_index(p, r, path, index)) return CREMA_ERROR;
  const pb::Reflection* refl = r.msg->GetReflection();
  bool rep = r.field->is_repeated();
  auto* mp = const_cast<crema_params*>(p);
  if (r.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
    mp->strings.push_back(rep ? refl->GetRepeatedString(*r.msg, r.field, index)
                              : refl->GetString(*r.msg, r.field));
  } else if (r.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
    const pb::EnumValueDescriptor* e = rep ? refl->GetRepeatedEnum(*r.msg, r.field, index)
                                           : refl->GetEnum(*r.msg, r.field);
    mp->strings.push_back(e->name());
  } else {
    fail(p, std::string("parameter '") + path + "' is not a string or enum");
    return CREMA_ERROR;
  }
  *out = mp->strings.back().c_str();
  return CREMA_OK;
}

const char* layer_name(const crema_params* p) { return p->layer_name.c_str(); }

}  // namespace crema::params_access
