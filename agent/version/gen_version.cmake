# SPDX-License-Identifier: Apache-2.0
# Writes OUT (version.c) with the project version VERSION and the commit of the checkout SRC,
# at build time. configure_file leaves OUT untouched when its text is the same, so only a new
# commit recompiles it (and relinks the binaries).
execute_process(COMMAND git -C ${SRC} rev-parse --short HEAD
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(commit)
  set(IOFENCE_VERSION_STRING "${VERSION} (git ${commit})")
else()
  set(IOFENCE_VERSION_STRING "${VERSION}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.c.in ${OUT} @ONLY)
