# ddosd end to end (label "integration"), included from integration.cmake. Each test is a bash
# script under tests/integration/ that takes the build directory, starts what it needs (its own
# redis-server on a free loopback port, a network namespace and veth pair) and removes all of it
# on exit (tests/integration/daemon_lib.sh); checks live in daemon_check.py (python3-redis).
# None of them needs the REST API (--api none). Exit 77 means skipped.
#   daemon_redis          replay into Redis: hashes, ddos:top, ddos:events vs ground truth and
#                         --verdicts-out
#   daemon_redis_restart  kill -9 and restart Redis mid-replay: final state as without it
#   daemon_live           -i on a veth pair, tcpreplay from a namespace, SIGTERM (root only)
#   daemon_signals        SIGHUP good/corrupt model, SIGUSR1 log reopen, SIGTERM mid-replay
#   daemon_cli            flags, start-up errors, --dump-config masking, .env mode, exit 2
#   daemon_notify         the notify hook gets attack_start JSON; --flows-out rows
if(TARGET ddosd AND TARGET ddos-trafgen)
  set(DDOSD_DAEMON_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR})
  function(ddosd_daemon_test name timeout)
    add_test(NAME ${name}
      COMMAND bash ${DDOSD_DAEMON_TESTS_DIR}/${name}.sh ${PROJECT_BINARY_DIR})
    set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${timeout}
      SKIP_RETURN_CODE 77 ${ARGN})
  endfunction()
  ddosd_daemon_test(daemon_redis 300)
  ddosd_daemon_test(daemon_redis_restart 300)
  ddosd_daemon_test(daemon_live 180 RUN_SERIAL TRUE)
  ddosd_daemon_test(daemon_signals 180)
  ddosd_daemon_test(daemon_cli 180)
  ddosd_daemon_test(daemon_notify 180)
endif()
