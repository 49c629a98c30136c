# What `cmake --install` puts where, in two components:
# - lbd: /usr/sbin/{lbd,lbctl,lbd-tunnel}, /etc/lbd/lbd.yaml, the systemd unit,
#   man pages lbd(8) lbctl(8) lbd.yaml(5) (generated from scdoc sources);
# - lbsched: liblbsched for embedding (schedulers/CMakeLists.txt).
# lbd-packet and lbd-vrrp are test and single-piece tools: built, not installed.
# scripts/package turns the lbd component into a Debian package.
install(TARGETS lbd lbctl lbd-tunnel RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT lbd)
# /etc and /lib/systemd are absolute on purpose (Debian's places); a DESTDIR
# staging install (scripts/package) keeps them inside the staging root.
install(FILES ${PROJECT_SOURCE_DIR}/conf/lbd.yaml DESTINATION /etc/lbd COMPONENT lbd)
install(FILES ${PROJECT_SOURCE_DIR}/lb/daemon/dist/lbd.service DESTINATION /lib/systemd/system
        COMPONENT lbd)

# Man pages: one scdoc source each, rendered at build time.
find_program(LBD_SCDOC scdoc)
if(LBD_SCDOC)
  set(lbd_man_pages)
  foreach(src lb/daemon/man/lbd.8.scd lb/daemon/man/lbctl.8.scd conf/lbd.yaml.5.scd)
    get_filename_component(page ${src} NAME_WLE)  # lbd.8
    string(REGEX MATCH "[0-9]$" section ${page})
    set(out ${PROJECT_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${LBD_SCDOC} < ${PROJECT_SOURCE_DIR}/${src} > ${out}
      DEPENDS ${PROJECT_SOURCE_DIR}/${src} VERBATIM)
    list(APPEND lbd_man_pages ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT lbd)
  endforeach()
  add_custom_target(man ALL DEPENDS ${lbd_man_pages})
else()
  message(STATUS "scdoc not found: man pages are not built (apt-get install scdoc)")
endif()
