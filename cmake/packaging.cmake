# The Debian package (docs/operations.md): `cpack -G DEB` in the build
# folder, or scripts/package.sh. One package, braid, with the program,
# libbraid and its development files, the man pages, example configs under
# /etc/braid (conffiles) and the systemd units.

# Files outside the prefix go in the component "system", which a plain
# `cmake --install --prefix DIR` leaves out (EXCLUDE_FROM_ALL); the package
# asks for it by name.
install(FILES packaging/etc/serve-example.toml packaging/etc/director.env
  packaging/etc/relay-example.env
  DESTINATION /etc/braid COMPONENT system EXCLUDE_FROM_ALL)
# /lib, not /usr/lib: Debian 12 ships units there (dpkg's path aliasing).
install(FILES packaging/systemd/braid-serve@.service
  packaging/systemd/braid-director.service
  packaging/systemd/braid-relay@.service
  DESTINATION /lib/systemd/system COMPONENT system EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME braid)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(BRAID_PACKAGE_CONTACT "braid developers <braid@example.org>" CACHE STRING
  "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT ${BRAID_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "fetch one file or stream from several sources at once")
set(CPACK_PACKAGE_DESCRIPTION
  "braid splits a download between several servers (braid serve), mirrors \
and relays by a pattern of interleaved blocks that follows each source's \
rate, checks every block against a SHA-256 manifest, and resumes. This \
package holds the braid program (get, serve, director, relay, proxy), \
libbraid with its headers, pkg-config and CMake files, man pages, and \
systemd units for the servers.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Both the unnamed component (program, library, man pages) and "system",
# in one package.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified system)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file for libbraid (packaging/deb/triggers runs ldconfig).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# adduser for postinst; systemctl is called only where systemd runs. The
# program loads libcurl when first used (libbraid, in the package too,
# links it: named here for the program all the same).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libcurl4 (>= 7.88)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/deb/postinst
  ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
  ${CMAKE_SOURCE_DIR}/packaging/deb/postrm
  ${CMAKE_SOURCE_DIR}/packaging/deb/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/deb/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
