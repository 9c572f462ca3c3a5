# stress_daemon (label "stress"), included from stress.cmake: ddosd itself with --threads 2
# --workers 2 on a generated capture of about half a million packets, so every ring and
# hand-over of the pipeline carries real traffic. scripts/test.sh runs the stress label in its
# ThreadSanitizer tree, where the script fails on any report (TSAN_OPTIONS halt_on_error=1
# exitcode=66). There it needs the targets ddosd and ddos-trafgen built.
if(TARGET ddosd AND TARGET ddos-trafgen)
  add_test(NAME stress_daemon
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/integration/daemon_stress.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(stress_daemon PROPERTIES LABELS stress TIMEOUT 1200)
endif()
