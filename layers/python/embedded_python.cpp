// SPDX-License-Identifier: BSD-2-Clause
#include "embedded_python.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "crema/layer.hpp"

namespace py = pybind11;
namespace fs = std::filesystem;

namespace crema_python_layer {

namespace {

// This plugin's file, to find crema's Python package from it.
fs::path plugin_file() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&plugin_file), &info) == 0 || !info.dli_fname) return {};
  return fs::path(info.dli_fname);
}

}  // namespace

void ensure_interpreter() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (Py_IsInitialized()) return;  // inside `import crema`: its interpreter
    // The plugin was opened with RTLD_LOCAL, and libpython with it: extension modules (numpy)
    // look Python's symbols up globally, so make libpython's global before they load.
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&Py_IsInitialized), &info) != 0 && info.dli_fname)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    Py_InitializeEx(0);   // 0: crema keeps its own SIGINT handling
    PyEval_SaveThread();  // the GIL is taken per call from now on
  });
}

void extend_sys_path() {
  py::list path = py::module_::import("sys").attr("path");
  auto has = [&](const std::string& dir) {
    for (py::handle p : path)
      if (py::str(p).cast<std::string>() == dir) return true;
    return false;
  };
  // Definition folders first, in the order read: a layer's module beside its prototxt.
  if (const char* dirs = std::getenv("CREMA_DEFINITION_DIRS")) {
    std::stringstream ss(dirs);
    std::string dir;
    int at = 0;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      std::error_code ec;
      const std::string abs = fs::absolute(dir, ec).lexically_normal().string();
      if (!ec && !has(abs)) path.insert(at++, abs);
    }
  }
  // crema's package, for `import crema` / `import caffe` in the layer's module: in the build
  // tree (build/lib/crema/plugins -> build/python) or where it was installed.
  const fs::path plugins = plugin_file().parent_path();
  for (const fs::path& candidate :
       {plugins / "../../../python", plugins / CREMA_PYTHON_PACKAGE_FROM_PLUGINS}) {
    std::error_code ec;
    const fs::path dir = fs::weakly_canonical(candidate, ec);
    if (!ec && fs::exists(dir / "crema" / "__init__.py", ec) && !has(dir.string())) {
      path.append(dir.string());
      break;
    }
  }
}

std::string format_exception(py::error_already_set& e) {
  // A part pybind11 did not fetch is a null handle, which no call may take: None instead.
  auto or_none = [](const py::object& o) { return o ? o : py::none(); };
  try {
    py::object lines =
        py::module_::import("traceback")
            .attr("format_exception")(or_none(e.type()), or_none(e.value()), or_none(e.trace()));
    return py::str("").attr("join")(lines).cast<std::string>();
  } catch (...) {
    return e.what();
  }
}

}  // namespace crema_python_layer
