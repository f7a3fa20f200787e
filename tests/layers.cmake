# Checks that no #include crosses a layer upward.
#   cmake -DROOT=<source dir> -P layers.cmake
# The layers, lowest first, are folders under circuits/ (tests/ mirrors them);
# harness/ is the top. A file may include its own layer and any below it; the
# files directly in tests/ (main() and helpers every test binary links) may
# include up to the model layer and may be included from any layer.
# Prints one line per upward include and fails if there is any.
set(layers formats model tasks training claims reports discovery harness)

function(layer_of path out)  # path relative to ROOT; out: its rank in layers, -1 if none
  set(layer "")
  if(path MATCHES "^harness/")
    set(layer harness)
  elseif(path MATCHES "^(circuits|tests)/([a-z_]+)/")
    set(layer ${CMAKE_MATCH_2})
  elseif(path MATCHES "^tests/[^/]+$")
    set(layer ${ROOT_TESTS_LAYER})
  endif()
  list(FIND layers "${layer}" rank)
  set(${out} ${rank} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE files RELATIVE ${ROOT}
  ${ROOT}/circuits/*.h ${ROOT}/circuits/*.cpp ${ROOT}/harness/*.h ${ROOT}/harness/*.cpp
  ${ROOT}/tests/*.h ${ROOT}/tests/*.cpp)
list(FILTER files EXCLUDE REGEX "^tests/layers_planted/")
set(violations 0)
foreach(file ${files})
  set(ROOT_TESTS_LAYER model)
  layer_of(${file} from)
  set(ROOT_TESTS_LAYER formats)
  if(from EQUAL -1)
    message("${file}: not in a layer (${layers})")
    math(EXPR violations "${violations} + 1")
    continue()
  endif()
  file(STRINGS ${ROOT}/${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line ${includes})
    string(REGEX REPLACE "^[^\"]*\"([^\"]+)\".*" "\\1" target "${line}")
    layer_of(${target} to)
    if(to GREATER from)
      list(GET layers ${from} from_name)
      list(GET layers ${to} to_name)
      message("${file}: #include \"${target}\" reaches up from ${from_name} to ${to_name}")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH files n)
if(violations GREATER 0)
  message(FATAL_ERROR "${violations} include(s) cross a layer upward (of ${n} files)")
endif()
message(STATUS "${n} files, every #include points to its own layer or one below")
