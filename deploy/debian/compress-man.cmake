# SPDX-License-Identifier: Apache-2.0
# CPack pre-build step of the .deb: man pages are shipped gzip-compressed (-9n: no name or
# time stamp, so the package is reproducible), as Debian policy asks; `cmake --install` itself
# keeps them plain.
file(GLOB_RECURSE pages "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/share/man/man*/*")
foreach(page ${pages})
  if(NOT page MATCHES "\\.gz$")
    execute_process(COMMAND gzip -9nf "${page}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip ${page} failed")
    endif()
  endif()
endforeach()
