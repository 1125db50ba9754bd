# tricConfig.cmake - tric's CMake package, installed by `make install` as
# PREFIX/lib/cmake/tric/tricConfig.cmake and read by find_package(tric).
#
# It gives
#   tric::runtime    libtricrt.a (tric's thread pool) with the runtime headers, Threads and libm:
#                    what every object tric makes needs at link time (docs/abi.md)
#   tric::tric       the tric executable (imported); TRIC_EXECUTABLE is its path
#   tric_add_library(NAME SOURCES a.tri... [INCLUDE_DIRS dir...] [OPTIONS opt...])
#                    a static library NAME of the objects tric builds from the modules, one
#                    `tric build` per module, its headers' folder on NAME's PUBLIC include path
# docs/install.md says how to use it. Every path is found from this file's own place, so
# the installed tree can be moved (or used from a DESTDIR) as it is.

if(CMAKE_VERSION VERSION_LESS 3.20)
  set(tric_FOUND FALSE)
  set(tric_NOT_FOUND_MESSAGE "tric's CMake package needs CMake 3.20 or newer (DEPFILE in add_custom_command for every generator); this is ${CMAKE_VERSION}")
  return()
endif()

# CMP0116 NEW (3.20): the depfile and the paths in it are taken relative to the current
# binary folder, and CMake rewrites them for Ninja; the function below is defined under
# these settings, so they hold whatever the calling project's cmake_minimum_required says.
cmake_policy(PUSH)
cmake_policy(VERSION 3.20...3.28)

get_filename_component(_tric_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

include(CMakeFindDependencyMacro)
find_dependency(Threads)

if(NOT TARGET tric::runtime)
  add_library(tric::runtime STATIC IMPORTED)
  set_target_properties(tric::runtime PROPERTIES
    IMPORTED_LOCATION "${_tric_prefix}/lib/libtricrt.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES C
    INTERFACE_INCLUDE_DIRECTORIES "${_tric_prefix}/include/tric"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;m")
endif()
if(NOT TARGET tric::tric)
  add_executable(tric::tric IMPORTED)
  set_target_properties(tric::tric PROPERTIES IMPORTED_LOCATION "${_tric_prefix}/bin/tric")
endif()
set(TRIC_EXECUTABLE "${_tric_prefix}/bin/tric")

foreach(_tric_file "${_tric_prefix}/lib/libtricrt.a" "${_tric_prefix}/include/tric/tricrt.h" "${TRIC_EXECUTABLE}")
  if(NOT EXISTS "${_tric_file}")
    set(tric_FOUND FALSE)
    set(tric_NOT_FOUND_MESSAGE "tric's CMake package at ${CMAKE_CURRENT_LIST_DIR} is incomplete: ${_tric_file} is missing")
  endif()
endforeach()
unset(_tric_file)
unset(_tric_prefix)

# tric_add_library(NAME SOURCES a.tri... [INCLUDE_DIRS dir...] [OPTIONS opt...])
#
# A static library NAME holding one object per module: `tric build M.tri -o DIR/M.o -MD`
# writes DIR/M.o and DIR/M.h (DIR is NAME.tric/ in the current binary folder), DIR is on
# NAME's PUBLIC include path (consumers #include "M.h") and NAME links tric::runtime
# publicly. Each command has a DEPFILE (tric's -MD), so an edit of an imported module
# rebuilds exactly the modules that import it. Under Ninja the command also passes
# --keep-mtime: an output whose bytes did not change keeps its time, and Ninja's restat
# spares everything downstream (a touched or comment-edited module recompiles no consumer).
# Relative SOURCES and INCLUDE_DIRS are taken from the current source folder; OPTIONS go to
# every tric command as they are (-O3, --target ..., --cpu ..., -Werror), but not -o,
# --emit, -MD or -MF, which the function owns.
function(tric_add_library name)
  cmake_parse_arguments(PARSE_ARGV 1 _tric "" "" "SOURCES;INCLUDE_DIRS;OPTIONS")
  if(_tric_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tric_add_library(${name}): unexpected arguments: ${_tric_UNPARSED_ARGUMENTS} (give SOURCES, INCLUDE_DIRS, OPTIONS)")
  endif()
  if(NOT _tric_SOURCES)
    message(FATAL_ERROR "tric_add_library(${name}): no SOURCES (the .tri modules to build)")
  endif()
  foreach(opt IN LISTS _tric_OPTIONS)
    if(opt MATCHES "^(-o|-MD|-MF|--emit.*)$")
      message(FATAL_ERROR "tric_add_library(${name}): OPTIONS must not hold '${opt}': the function names the outputs and the depfile itself")
    endif()
  endforeach()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${name}.tric")
  set(incflags "")
  foreach(inc IN LISTS _tric_INCLUDE_DIRS)
    get_filename_component(inc "${inc}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND incflags -I "${inc}")
  endforeach()
  set(keep "")
  if(CMAKE_GENERATOR MATCHES "Ninja")
    set(keep --keep-mtime) # Ninja restats; make needs outputs newer than their sources
  endif()

  set(stems "")
  set(outputs "")
  foreach(src IN LISTS _tric_SOURCES)
    get_filename_component(src "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT src MATCHES "\\.tri$")
      message(FATAL_ERROR "tric_add_library(${name}): '${src}' is not a .tri module")
    endif()
    get_filename_component(stem "${src}" NAME_WLE)
    if(stem IN_LIST stems)
      message(FATAL_ERROR "tric_add_library(${name}): two modules named '${stem}.tri': their objects and headers (${stem}.o, ${stem}.h) would be one file; put them in two libraries")
    endif()
    list(APPEND stems "${stem}")
    set(obj "${dir}/${stem}.o")
    set(hdr "${dir}/${stem}.h")
    add_custom_command(
      OUTPUT "${obj}" "${hdr}"
      COMMAND "${TRIC_EXECUTABLE}" build "${src}" -o "${obj}" -MD ${keep} ${incflags} ${_tric_OPTIONS}
      DEPENDS "${src}" "${TRIC_EXECUTABLE}"
      DEPFILE "${dir}/${stem}.d"
      COMMENT "tric: building ${stem}.o and ${stem}.h"
      VERBATIM)
    set_source_files_properties("${obj}" PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    list(APPEND outputs "${obj}" "${hdr}")
  endforeach()

  add_library(${name} STATIC ${outputs})
  get_property(langs GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("C" IN_LIST langs)
    set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C)
  else()
    set_target_properties(${name} PROPERTIES LINKER_LANGUAGE CXX)
  endif()
  target_include_directories(${name} PUBLIC "$<BUILD_INTERFACE:${dir}>")
  target_link_libraries(${name} PUBLIC tric::runtime)
endfunction()

cmake_policy(POP)
