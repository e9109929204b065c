# Writes INPUT as a C++ raw string constant SYMBOL into OUTPUT.
file(READ ${INPUT} text)
string(FIND "${text}" ")cellbox\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )cellbox\"")
endif()
file(WRITE ${OUTPUT} "#pragma once\n// Generated from ${INPUT}; do not edit.\n"
     "static const char* const ${SYMBOL} = R\"cellbox(${text})cellbox\";\n")
