# crema_add_layer_plugin(NAME SOURCES a.cpp ... [CUDA_SOURCES k.cu ...] [PROTO p.proto]
#                        [TESTS t.cpp ...] [LIBRARIES lib ...] [OUTPUT_DIRECTORY dir])
#
# Builds NAME.so, one layer plugin: the sources, the optional CUDA kernels (when the project has
# CUDA enabled), and the optional parameter schema compiled by protoc into an embedded
# FileDescriptorSet (the plugin does not link protobuf). TESTS become a GoogleTest executable
# linked with crema's test support, registered with CTest.
#
# Works in the crema tree and, after find_package(crema), out of it.
include_guard(GLOBAL)

find_program(CREMA_PROTOC protoc REQUIRED)
set(_crema_plugin_cmake_dir ${CMAKE_CURRENT_LIST_DIR})

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
  target_link_options(${target} PRIVATE "LINKER:--exclude-libs,ALL" "LINKER:--no-undefined")
  if(with_cuda)
    target_compile_definitions(${target} PRIVATE CREMA_WITH_CUDA=1)
    set_target_properties(${target} PROPERTIES CUDA_RUNTIME_LIBRARY Static)
    # The .cpp files include crema/cuda.hpp (cuda_runtime.h) for their forward_cuda paths.
    find_package(CUDAToolkit REQUIRED)
    target_link_libraries(${target} PRIVATE CUDA::cudart_static)
  endif()
  if(P_TESTS AND TARGET crema::testing AND TARGET GTest::gtest_main)
    add_executable(${NAME}_test ${P_TESTS})
    target_include_directories(${NAME}_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(${NAME}_test PRIVATE crema::testing GTest::gtest_main)
    add_dependencies(${NAME}_test ${target})
    add_test(NAME ${NAME}_test COMMAND ${NAME}_test)
    set_tests_properties(${NAME}_test PROPERTIES
      ENVIRONMENT "CREMA_TEST_PLUGIN_DIR=$<TARGET_FILE_DIR:${target}>")
  endif()
endfunction()
