# Packaging tests (label "integration"): scripts/install.sh, the systemd unit, the nginx site and
# the daemon's service-manager contract. Included from integration.cmake.
#   packaging_install  install.sh --prefix into a temporary root: tree, owners, modes, config.json,
#                      .env kept on a second run, nginx -t of the site, --uninstall (root; 77
#                      otherwise: owners cannot be checked)
#   packaging_unit     static checks of the unit, then systemd-analyze verify (77 without it)
#   packaging_nginx    a real nginx with the shipped site in front of a running ddosd
#   packaging_notify   READY=1, WATCHDOG=1, STOPPING=1 and exit 0 over a NOTIFY_SOCKET
# The last two need ddosd (app/ddosd in this build tree) and fail, saying so, until it is built.
set(DDOSD_PKG_DIR ${PROJECT_SOURCE_DIR}/tests/integration)
set(DDOSD_PKG_DAEMON ${PROJECT_BINARY_DIR}/app/ddosd)
if(TARGET ddos-trafgen)
  set(DDOSD_PKG_TRAFGEN $<TARGET_FILE:ddos-trafgen>)
else()
  set(DDOSD_PKG_TRAFGEN ${PROJECT_BINARY_DIR}/trafgen/ddos-trafgen)
endif()

add_test(NAME packaging_install
  COMMAND bash ${DDOSD_PKG_DIR}/packaging_install.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
# Creates (and removes again) the system user ddos when it does not exist yet.
set_tests_properties(packaging_install PROPERTIES LABELS integration SKIP_RETURN_CODE 77
  TIMEOUT 120 RESOURCE_LOCK ddos_system_user)

add_test(NAME packaging_unit
  COMMAND bash ${DDOSD_PKG_DIR}/packaging_unit.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(packaging_unit PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 60)

add_test(NAME packaging_nginx
  COMMAND bash ${DDOSD_PKG_DIR}/packaging_nginx.sh ${PROJECT_SOURCE_DIR} ${DDOSD_PKG_DAEMON}
    ${DDOSD_PKG_TRAFGEN})
set_tests_properties(packaging_nginx PROPERTIES LABELS integration TIMEOUT 120)

add_test(NAME packaging_notify
  COMMAND /usr/bin/python3 ${DDOSD_PKG_DIR}/packaging_notify.py --daemon ${DDOSD_PKG_DAEMON}
    --capture ${PROJECT_SOURCE_DIR}/tests/data/session-eth.pcap
    --model ${PROJECT_SOURCE_DIR}/models/ddosd-model.msgpack)
set_tests_properties(packaging_notify PROPERTIES LABELS integration TIMEOUT 60)
