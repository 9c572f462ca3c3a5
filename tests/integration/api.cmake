# REST API integration tests (label "integration"): real HTTP against a running ddosd that replays
# a ddos-trafgen capture with --serve. Each script starts what it needs on free loopback ports
# (redis-server, nginx, crowdsec-custom-bouncer) in a temporary directory and stops every process
# it started (tests/integration/api_common.py). They need the ddosd binary: when it is not built
# they fail (they never skip), so a build without the daemon cannot pass silently.
#   api_endpoints          every endpoint, status code, auth, reports in Redis, access log
#   api_nginx_auth_request nginx auth_request -> /api/check: flagged 403, clean gets the page
#   api_crowdsec_bouncer   Debian's crowdsec-custom-bouncer: add on a decision, del on expiry
#   api_slow_clients       200 byte-at-a-time clients; /health must stay under 100 ms
#   doc_examples           every ```console example of README.md and docs/*.md runs as documented
#                          (skipped, exit 77, without redis-server, redis-cli or curl)
if(TARGET ddosd)
  set(DDOSD_API_TEST_BIN $<TARGET_FILE:ddosd>)
else()
  set(DDOSD_API_TEST_BIN ${PROJECT_BINARY_DIR}/app/ddosd) # absent: the tests fail and say so
endif()
if(TARGET ddos-trafgen)
  set(DDOSD_API_TEST_TRAFGEN $<TARGET_FILE:ddos-trafgen>)
else()
  set(DDOSD_API_TEST_TRAFGEN ${PROJECT_BINARY_DIR}/trafgen/ddos-trafgen)
endif()

foreach(name endpoints nginx_auth_request crowdsec_bouncer slow_clients)
  add_test(NAME api_${name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/api_${name}.py
      --ddosd ${DDOSD_API_TEST_BIN} --trafgen ${DDOSD_API_TEST_TRAFGEN})
  set_tests_properties(api_${name} PROPERTIES LABELS integration TIMEOUT 180)
endforeach()
# Timing-sensitive: alone on the machine.
set_tests_properties(api_slow_clients PROPERTIES RUN_SERIAL TRUE)

# evaluate.py's per-IP view (ddosd -r at full speed) agrees with a running ddosd replaying the same
# ddos-trafgen capture in real time (/api/threat-analysis): level, role, attack type per IP.
add_test(NAME eval_agreement
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/eval_agreement.py
    --ddosd ${DDOSD_API_TEST_BIN} --trafgen ${DDOSD_API_TEST_TRAFGEN})
set_tests_properties(eval_agreement PROPERTIES LABELS integration TIMEOUT 180)

# Every ```console example of README.md and docs/*.md, run against a ddosd replaying a benign
# capture with --serve (states set up with operator reports): the documented output must match
# (keys, types, levels, roles, statuses, Redis field names). Skipped without redis-server or curl.
add_test(NAME doc_examples
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/doc_examples.py
    --ddosd ${DDOSD_API_TEST_BIN} --trafgen ${DDOSD_API_TEST_TRAFGEN})
set_tests_properties(doc_examples PROPERTIES LABELS integration TIMEOUT 240 SKIP_RETURN_CODE 77)
