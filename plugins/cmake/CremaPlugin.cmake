# crema_add_layer_plugin(NAME SOURCES a.cpp ... [CUDA_SOURCES k.cu ...] [PROTO p.proto]
#                        [TESTS t.cpp ...] [LIBRARIES lib ...] [OUTPUT_DIRECTORY dir])
#
# Builds NAME.so, one layer plugin: the sources, the optional CUDA kernels (when the project has
# CUDA enabled), and the optional parameter schema compiled by protoc into an embedded
# FileDescriptorSet (the plugin does not link protobuf). TESTS become a GoogleTest executable
# linked with crema's test support, registered with CTest (with CREMA_TEST_PLUGIN_DIR set to the
# plugin's folder); without GoogleTest they are skipped with a warning that says so.
#
# Without a build type (a single-configuration generator and no CMAKE_BUILD_TYPE) the plugin and
# its tests are compiled with the Release flags crema itself uses (-O3 -DNDEBUG), not at -O0.
#
# Works in the crema tree and, after find_package(crema), out of it.
include_guard(GLOBAL)

find_program(CREMA_PROTOC protoc REQUIRED)
set(_crema_plugin_cmake_dir ${CMAKE_CURRENT_LIST_DIR})

# The compiler's Release flags (what crema's own default build uses, -O3 -DNDEBUG with GCC) for
# `target` when nothing chose a build type; said once per plugin.
function(_crema_default_to_release target name)
  get_property(multi GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(multi OR CMAKE_BUILD_TYPE)
    return()
  endif()
  separate_arguments(cxx_flags UNIX_COMMAND "${CMAKE_CXX_FLAGS_RELEASE}")
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${cxx_flags}>")
  if(CMAKE_CUDA_COMPILER)
    separate_arguments(cuda_flags UNIX_COMMAND "${CMAKE_CUDA_FLAGS_RELEASE}")
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:${cuda_flags}>")
  endif()
  if(target MATCHES "^crema_plugin_")
    message(STATUS "crema plugin ${name}: no CMAKE_BUILD_TYPE, building with the Release flags "
      "crema uses (${CMAKE_CXX_FLAGS_RELEASE}); pass -DCMAKE_BUILD_TYPE=<type> to choose")
  endif()
endfunction()

function(crema_add_layer_plugin NAME)
  cmake_parse_arguments(P "" "PROTO;OUTPUT_DIRECTORY" "SOURCES;CUDA_SOURCES;TESTS;LIBRARIES" ${ARGN})
  set(target crema_plugin_${NAME})
  set(sources ${P_SOURCES})
  set(with_cuda OFF)
  if(P_CUDA_SOURCES AND CREMA_WITH_CUDA)
    list(APPEND sources ${P_CUDA_SOURCES})
    set(with_cuda ON)
  endif()
  if(P_PROTO)
    get_filename_component(proto_abs ${P_PROTO} ABSOLUTE)
    get_filename_component(proto_dir ${proto_abs} DIRECTORY)
    set(fds ${CMAKE_CURRENT_BINARY_DIR}/${NAME}_schema.pb)
    set(embed ${CMAKE_CURRENT_BINARY_DIR}/${NAME}_schema.cpp)
    add_custom_command(
      OUTPUT ${embed}
      COMMAND ${CREMA_PROTOC} -I${proto_dir} -I${CREMA_SDK_PROTO_DIR} --descriptor_set_out=${fds} ${proto_abs}
      COMMAND ${CMAKE_COMMAND} -DIN=${fds} -DOUT=${embed} -P ${_crema_plugin_cmake_dir}/CremaEmbed.cmake
      DEPENDS ${proto_abs} ${_crema_plugin_cmake_dir}/CremaEmbed.cmake
      COMMENT "Embedding the parameter schema of plugin ${NAME}")
    list(APPEND sources ${embed})
  endif()
  add_library(${target} MODULE ${sources})
  _crema_default_to_release(${target} ${NAME})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME ${NAME}
    CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(P_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIRECTORY})
  elseif(DEFINED CREMA_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CREMA_PLUGIN_OUTPUT_DIR})
  endif()
  target_include_directories(${target} PRIVATE ${CREMA_SDK_INCLUDE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${target} PRIVATE ${P_LIBRARIES})
  # Only the entry function is exported; nothing else of the plugin can clash with the host.
  target_link_options(${target} PRIVATE "LINKER:--exclude-libs,ALL")
  # clang leaves its sanitizer and fuzzer runtimes to the executable: such a plugin refers to
  # symbols it cannot define.
  if(NOT ((CREMA_SANITIZE OR CREMA_FUZZ) AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"))
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()
  if(with_cuda)
    target_compile_definitions(${target} PRIVATE CREMA_WITH_CUDA=1)
    set_target_properties(${target} PROPERTIES CUDA_RUNTIME_LIBRARY Static)
    # The .cpp files include crema/cuda.hpp (cuda_runtime.h) for their forward_cuda paths.
    find_package(CUDAToolkit REQUIRED)
    target_link_libraries(${target} PRIVATE CUDA::cudart_static)
  endif()
  if(P_TESTS AND NOT (TARGET crema::testing AND TARGET GTest::gtest_main))
    # Inside crema's tree a build without tests (CREMA_BUILD_TESTS=OFF) leaves them out on purpose.
    if(NOT DEFINED CREMA_BUILD_TESTS OR CREMA_BUILD_TESTS)
      message(WARNING "crema plugin ${NAME}: its TESTS (${P_TESTS}) are not built: GoogleTest "
        "(GTest) was not found. Install it (Debian/Ubuntu: apt install libgtest-dev) or point "
        "CMAKE_PREFIX_PATH or GTest_DIR at it, then configure again.")
    endif()
  elseif(P_TESTS)
    add_executable(${NAME}_test ${P_TESTS})
    _crema_default_to_release(${NAME}_test ${NAME})
    target_include_directories(${NAME}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${NAME}_test PRIVATE crema::testing GTest::gtest_main)
    add_dependencies(${NAME}_test ${target})
    add_test(NAME ${NAME}_test COMMAND ${NAME}_test)
    set_tests_properties(${NAME}_test PROPERTIES
      ENVIRONMENT "CREMA_TEST_PLUGIN_DIR=$<TARGET_FILE_DIR:${target}>")
  endif()
endfunction()
