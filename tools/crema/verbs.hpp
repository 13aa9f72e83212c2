// SPDX-License-Identifier: BSD-2-Clause
// The crema verbs; each takes the arguments after the verb name (argv[0] is the verb).
#pragma once

namespace crema::tools {
int run_train(int argc, char** argv);
int run_test(int argc, char** argv);
int run_time(int argc, char** argv);
int run_validate(int argc, char** argv);
int run_plugins(int argc, char** argv);
int run_check_plugin(int argc, char** argv);
int run_device_query(int argc, char** argv);
int run_convert(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_draw(int argc, char** argv);
}  // namespace crema::tools
