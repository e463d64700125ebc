# Writes OUT (a C header) with the project version and the git revision of
# SRC. Run at every build (ts_version target) so the revision follows commits;
# configure_file leaves OUT untouched when nothing changed, so nothing is
# recompiled then. A build outside git (a release tarball) says "unknown"
# unless -DTS_GIT_REV=... was given at configure time.
if(NOT GIT_REV)
  set(GIT_REV "unknown")
  find_program(_git git)
  if(_git)
    execute_process(COMMAND ${_git} -C ${SRC} describe --always --dirty --abbrev=12 --exclude=*
                    OUTPUT_VARIABLE _rev OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _rc ERROR_QUIET)
    if(_rc EQUAL 0 AND _rev)
      set(GIT_REV "${_rev}")
    endif()
  endif()
endif()
set(TS_VERSION_STR "${VERSION}")
set(TS_GIT_REV_STR "${GIT_REV}")
configure_file(${SRC}/src/lib/version.h.in ${OUT} @ONLY)
