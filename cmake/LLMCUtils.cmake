# Shared CMake helpers for llmc components.
include(GoogleTest)

# Compile options every llmc target gets: warnings on, -Werror in CI.
add_library(llmc_options INTERFACE)
target_compile_options(llmc_options INTERFACE
  -Wall -Wextra -Wno-unused-parameter
  $<$<BOOL:${LLMC_WERROR}>:-Werror>)

function(llmc_add_subdirectory_if_present dir)
  if(EXISTS "${PROJECT_SOURCE_DIR}/${dir}/CMakeLists.txt")
    add_subdirectory("${dir}")
  endif()
endfunction()

# llmc_add_library(name SOURCES... [LIBS libs...] [DEPENDS targets...])
# A static llmc library with the project's warning set.
function(llmc_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;DEPENDS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PUBLIC ${ARG_LIBS} PRIVATE llmc_options)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
endfunction()

# llmc_add_unittest(name sources... LIBS libs...)
# A GoogleTest executable whose tests are registered one by one with ctest.
function(llmc_add_unittest name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest_main llmc_options)
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS unit
    EXTRA_ARGS --gtest_color=no)
  set_property(GLOBAL APPEND PROPERTY LLMC_UNITTEST_TARGETS ${name})
endfunction()
