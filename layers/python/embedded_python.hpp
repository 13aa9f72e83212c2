// SPDX-License-Identifier: BSD-2-Clause
// The interpreter the Python layer runs in: the running one inside `import crema`, else one this
// plugin starts (crema train, test binaries) and keeps to the end of the process. Every call into
// Python goes through run_python(), which takes the GIL for that call alone and turns a Python
// exception into crema's error, traceback included.
#pragma once
#include <string>

#include <pybind11/pybind11.h>

#include "crema/layer.hpp"

namespace crema_python_layer {

// Starts the interpreter if none runs (once per process); returns with the GIL released.
void ensure_interpreter();

// Puts on sys.path (GIL held): the folders of the net and solver files this process read
// (CREMA_DEFINITION_DIRS), first; crema's own Python package, last.
void extend_sys_path();

// Python's traceback of the exception being handled, as text.
std::string format_exception(pybind11::error_already_set& e);

// Runs fn with the GIL held; a Python exception becomes crema::Error("<what>:\n<traceback>").
template <class Fn>
void run_python(const std::string& what, const Fn& fn) {
  std::string error;
  {
    pybind11::gil_scoped_acquire gil;
    try {
      fn();
    } catch (pybind11::error_already_set& e) {
      error = what + " raised a Python exception:\n" + format_exception(e);
    } catch (const std::exception& e) {
      error = what + ": " + e.what();
    }
  }
  if (!error.empty()) throw crema::Error(error);
}

}  // namespace crema_python_layer
