# cmake -DIN=schema.pb -DOUT=schema.cpp -P CremaEmbed.cmake
# Writes the bytes of IN as the function crema_plugin_schema() that layer.hpp looks for.
# C++, not C: a plugin project may enable only the CXX language.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "// generated from ${IN}\n#include <cstddef>\n"
  "static const unsigned char kSchema[${bytes}] = {${body}};\n"
  "extern \"C\" __attribute__((visibility(\"hidden\"))) const unsigned char* crema_plugin_schema(size_t* size) {\n"
  "  *size = sizeof(kSchema);\n  return kSchema;\n}\n")
