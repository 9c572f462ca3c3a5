# Integration tests (label "integration"), included from tests/CMakeLists.txt. Python scripts run
# ${Python3_EXECUTABLE} (Debian's /usr/bin/python3, top CMakeLists.txt); shell scripts take the
# build directory and start what they need. Exit 77 means skipped (said per test below).

# ddosd_python_needs(<test> <module>...): configure fails, naming the Debian package, when the
# tests' Python cannot import a module that <test> needs.
function(ddosd_python_needs test)
  foreach(module IN LISTS ARGN)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c "import ${module}"
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${Python3_EXECUTABLE} cannot import ${module}, which the test ${test} "
        "needs: apt-get install python3-${module} (or scripts/deps.sh test)")
    endif()
  endforeach()
endfunction()

set(DDOSD_IT ${CMAKE_CURRENT_LIST_DIR})
set(DDOSD_IT_DDOSD $<TARGET_FILE:ddosd>)
set(DDOSD_IT_TRAFGEN $<TARGET_FILE:ddos-trafgen>)

# ---- ddos-flows, the model, the Redis sink, training -------------------------------------------
#   fixtures         the crafted captures of tests/data (tests/data/make_fixtures.py writes them
#                    and the expected numbers in fixtures.json); needs nothing outside the repo.
#   shared_captures  every capture of ../shared/data/captures (third-party traffic); meant for
#                    the sanitizer build; skipped (77) when ../shared/data is absent.
# Both are stdlib-only; tshark, when installed, is used as an independent decoder.
add_test(NAME fixtures
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/run_fixtures.py
    --bin $<TARGET_FILE:ddos-flows> --data ${PROJECT_SOURCE_DIR}/tests/data)
set_tests_properties(fixtures PROPERTIES LABELS integration TIMEOUT 300)

add_test(NAME shared_captures
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/shared_captures.py --bin $<TARGET_FILE:ddos-flows>)
set_tests_properties(shared_captures PROPERTIES SKIP_RETURN_CODE 77 LABELS integration
  TIMEOUT 600)

# ddos-flows --summary-html on a ddos-trafgen capture: every count on the page equals the CSV's
# (rows, flagged, per class and label, timeline bars, top flagged addresses), no script, and an
# unwritable path fails at once with exit 1 (stdlib only).
add_test(NAME flows_summary_html
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/flows_summary_html.py --bin $<TARGET_FILE:ddos-flows>
    --trafgen ${DDOSD_IT_TRAFGEN} --model ${PROJECT_SOURCE_DIR}/models/ddosd-model.msgpack)
set_tests_properties(flows_summary_html PROPERTIES LABELS integration TIMEOUT 120)

# Live capture on a veth pair in a namespace the test creates (root only; 77 = skipped).
add_test(NAME live_capture
  COMMAND bash ${DDOSD_IT}/live_capture.sh $<TARGET_FILE:ddos-flows>)
set_tests_properties(live_capture PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120
  RUN_SERIAL TRUE)

# The C engine scores like scikit-learn on forests trained here.
ddosd_python_needs(model_parity numpy sklearn msgpack)
add_test(NAME model_parity
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/model_parity.py --bin $<TARGET_FILE:ddos-model>)
set_tests_properties(model_parity PROPERTIES LABELS integration TIMEOUT 600)

# Redis sink against a real redis-server the test starts itself on a free loopback port (no
# persistence, a temporary directory); skipped (77) when redis-server is not installed.
add_executable(redis_sink_test ${DDOSD_IT}/redis_sink_test.c)
target_link_libraries(redis_sink_test PRIVATE ddosd_verdicts PkgConfig::HIREDIS)
add_test(NAME redis_sink COMMAND redis_sink_test)
set_tests_properties(redis_sink PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 180)

# The training pipeline, small and twice: same seed, byte-identical model (train_quick.sh).
ddosd_python_needs(train_quick numpy sklearn pandas matplotlib msgpack)
add_test(NAME train_quick COMMAND bash ${DDOSD_IT}/train_quick.sh ${PROJECT_BINARY_DIR})
set_tests_properties(train_quick PROPERTIES LABELS integration TIMEOUT 900)

# ---- ddosd end to end ---------------------------------------------------------------------------
# Each is a bash script that takes the build directory, starts what it needs (its own
# redis-server on a free loopback port, a network namespace and veth pair) and removes all of it
# on exit (daemon_lib.sh); checks live in daemon_check.py (python3-redis). None of them needs the
# REST API (--api none).
#   daemon_redis          replay into Redis: hashes, ddos:top, ddos:events vs ground truth and
#                         --verdicts-out
#   daemon_redis_restart  kill -9 and restart Redis mid-replay: final state as without it
#   daemon_redis_faults   Redis absent/killed/stopped/at maxmemory during a spoofed flood: the
#                         victim's verdict within one flush of Redis being writable, keys and
#                         memory within budget, errors logged with counts; SIGTERM mid-drain
#   daemon_live           -i on a veth pair, tcpreplay from a namespace, SIGTERM (root only)
#   daemon_signals        SIGHUP good/corrupt model, SIGUSR1 log reopen, SIGTERM mid-replay
#   daemon_cli            flags, start-up errors, --dump-config masking, .env mode, exit 2
#   daemon_notify         the notify hook gets attack_start JSON; --flows-out rows
#   daemon_prescore       ends with nothing new are not scored again; verdicts unchanged
#   daemon_live_capture   a 43k-packet burst on a veth pair taken without kernel drops
#                         (TPACKET_V3), no record lost by the shutdown flush (root only)
#   daemon_hardening      unsupported link type exits 1; final counters after the last flush;
#                         NoNewPrivs and an empty bounding set after the drop; log files 0640
#                         and the service user's, also after a reopen (root parts skip otherwise)
#   daemon_reload_fifo    SIGHUP with a FIFO at the model path: refused at once with the reason,
#                         /health within 1 s, the old model kept, SIGTERM exits 0 (issue 15 #6)
#   daemon_determinism    replays give byte-identical --verdicts-out: a full verdict table (fixed
#                         replay seed, DD_REPLAY_SEED), and runs with all threads on one CPU
function(ddosd_daemon_test name timeout)
  add_test(NAME ${name} COMMAND bash ${DDOSD_IT}/${name}.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT ${timeout}
    SKIP_RETURN_CODE 77 ${ARGN})
endfunction()
ddosd_daemon_test(daemon_redis 300)
ddosd_daemon_test(daemon_redis_restart 300)
ddosd_daemon_test(daemon_redis_faults 300)
ddosd_daemon_test(daemon_live 180 RUN_SERIAL TRUE)
ddosd_daemon_test(daemon_signals 180)
ddosd_daemon_test(daemon_cli 180)
ddosd_daemon_test(daemon_notify 180)
ddosd_daemon_test(daemon_prescore 180)
ddosd_daemon_test(daemon_hardening 180)
ddosd_daemon_test(daemon_live_capture 120 RUN_SERIAL TRUE)
ddosd_daemon_test(daemon_reload_fifo 60)
ddosd_daemon_test(daemon_secrets 60)
ddosd_daemon_test(daemon_determinism 180)

# ---- the REST API -------------------------------------------------------------------------------
# Real HTTP against a running ddosd that replays a ddos-trafgen capture with --serve. Each script
# starts what it needs on free loopback ports (redis-server, nginx, crowdsec-custom-bouncer) in a
# temporary directory and stops every process it started (api_common.py).
#   api_endpoints          every endpoint, status code, auth, reports in Redis, access log
#   api_nginx_auth_request nginx auth_request -> /api/check: flagged 403, clean gets the page
#   api_crowdsec_bouncer   Debian's crowdsec-custom-bouncer: add on a decision, del on expiry
#   api_slow_clients       200 byte-at-a-time clients; /health must stay under 100 ms
foreach(name endpoints nginx_auth_request crowdsec_bouncer slow_clients)
  add_test(NAME api_${name}
    COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/api_${name}.py
      --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
  set_tests_properties(api_${name} PROPERTIES LABELS integration TIMEOUT 180)
endforeach()
# Timing-sensitive: alone on the machine.
set_tests_properties(api_slow_clients PROPERTIES RUN_SERIAL TRUE)
# Fault injection (issue 15): a slowloris and connection exhaustion from 20 loopback addresses
# while the gateway's /health and /api/check must answer within 100 ms (api.timeout as a deadline,
# per-address and reserved connection budgets); malformed HTTP refused with 400 and a flood of it
# kept out of error.log.
foreach(name slowloris malformed)
  add_test(NAME api_${name}
    COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/api_${name}.py
      --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
  set_tests_properties(api_${name} PROPERTIES LABELS integration TIMEOUT 180)
endforeach()
set_tests_properties(api_slowloris PROPERTIES RUN_SERIAL TRUE)

# Debian's crowdsec-firewall-bouncer (nftables mode) and ddosd inside a network namespace the test
# creates: an extended decision stays in the nft set until its extended end (issue 15, defect 4).
# Root (ip netns, nft); 77 without the bouncer.
add_test(NAME api_firewall_bouncer
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/api_firewall_bouncer.py
    --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
set_tests_properties(api_firewall_bouncer PROPERTIES LABELS integration TIMEOUT 120
  SKIP_RETURN_CODE 77)

# 6,000 critical reports pipelined over real HTTP, then ordinary traffic from every reported
# address (a capture the test writes, replayed in real time): every report answered "recorded"
# stays critical in /api/threat-analysis and 403 in /api/check for its TTL; a refused one got 503
# with Retry-After (issue 15, defect 3).
add_test(NAME api_report_burst
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/api_report_burst.py
    --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
set_tests_properties(api_report_burst PROPERTIES LABELS integration TIMEOUT 180)

# The operator's view. dashboard_events: a 100,000-source spoofed SYN flood gives one start and
# one end event for its victim (trail, ddos:events, app.log), never one per source; 40 victims
# at once: one start each, app.log rate-limited with a "suppressed N" line (real redis-server).
# dashboard_browser: Debian's chromium + chromium-driver + python3-selenium, headless, on a
# real-time replay of a SYN flood and a spoofed flood: both victims with their level and type
# within 2 s of their verdicts, charts with points, a click shows reasons and top attackers, the
# search box answers "low" for a benign IP, no console errors; screenshots in
# <build>/dashboard-screenshots/. Skipped (77) when chromium or its driver is missing.
add_test(NAME dashboard_events
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/dashboard_events.py --ddosd ${DDOSD_IT_DDOSD})
set_tests_properties(dashboard_events PROPERTIES LABELS integration TIMEOUT 180)
add_test(NAME dashboard_browser
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/dashboard_browser.py --ddosd ${DDOSD_IT_DDOSD}
    --trafgen ${DDOSD_IT_TRAFGEN} --out ${PROJECT_BINARY_DIR}/dashboard-screenshots)
set_tests_properties(dashboard_browser PROPERTIES LABELS integration TIMEOUT 240
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
# evaluate.py draws its report (--png, or beside --out): a real PNG with its panels.
add_test(NAME evaluate_png COMMAND bash ${DDOSD_IT}/evaluate_png.sh ${PROJECT_BINARY_DIR})
set_tests_properties(evaluate_png PROPERTIES LABELS integration TIMEOUT 120)

# evaluate.py's per-IP view (ddosd -r at full speed) agrees with a running ddosd replaying the same
# ddos-trafgen capture in real time (/api/threat-analysis): level, role, attack type per IP.
add_test(NAME eval_agreement
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/eval_agreement.py
    --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
set_tests_properties(eval_agreement PROPERTIES LABELS integration TIMEOUT 180)

# Every ```console example of README.md and docs/*.md, run against a ddosd replaying a benign
# capture with --serve (states set up with operator reports): the documented output must match
# (keys, types, levels, roles, statuses, Redis field names). Skipped (77) without redis-server,
# redis-cli or curl.
add_test(NAME doc_examples
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/doc_examples.py
    --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
set_tests_properties(doc_examples PROPERTIES LABELS integration TIMEOUT 240 SKIP_RETURN_CODE 77)

# ---- packaging ----------------------------------------------------------------------------------
#   packaging_install  install.sh --prefix into a temporary root: tree, owners, modes, config.json,
#                      .env kept on a second run, nginx -t of the site, --uninstall (root; 77
#                      otherwise: owners cannot be checked)
#   packaging_unit     static checks of the unit, then systemd-analyze verify (77 without it)
#   packaging_nginx    a real nginx with the shipped site in front of a running ddosd
#   packaging_notify   READY=1, WATCHDOG=1, STOPPING=1 and exit 0 over a NOTIFY_SOCKET
add_test(NAME packaging_install
  COMMAND bash ${DDOSD_IT}/packaging_install.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
# Creates (and removes again) the system user ddos when it does not exist yet.
set_tests_properties(packaging_install PROPERTIES LABELS integration SKIP_RETURN_CODE 77
  TIMEOUT 120 RESOURCE_LOCK ddos_system_user)

add_test(NAME packaging_unit COMMAND bash ${DDOSD_IT}/packaging_unit.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(packaging_unit PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 60)

add_test(NAME packaging_nginx
  COMMAND bash ${DDOSD_IT}/packaging_nginx.sh ${PROJECT_SOURCE_DIR} ${DDOSD_IT_DDOSD}
    ${DDOSD_IT_TRAFGEN})
set_tests_properties(packaging_nginx PROPERTIES LABELS integration TIMEOUT 120)

add_test(NAME packaging_notify
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/packaging_notify.py --daemon ${DDOSD_IT_DDOSD}
    --capture ${PROJECT_SOURCE_DIR}/tests/data/session-eth.pcap
    --model ${PROJECT_SOURCE_DIR}/models/ddosd-model.msgpack)
set_tests_properties(packaging_notify PROPERTIES LABELS integration TIMEOUT 60)

# ---- several sensors, one Redis (docs/scale-out.md) ---------------------------------------------
#   api_multi_sensor   two sensors (real-time replays) and an API-only node against one
#                      redis-server, Debian's crowdsec-custom-bouncer polling the API-only node;
#                      Redis killed: the API-only node answers from its last state, "degraded"
add_test(NAME api_multi_sensor
  COMMAND ${Python3_EXECUTABLE} ${DDOSD_IT}/api_multi_sensor.py
    --ddosd ${DDOSD_IT_DDOSD} --trafgen ${DDOSD_IT_TRAFGEN})
set_tests_properties(api_multi_sensor PROPERTIES LABELS integration TIMEOUT 180)

#   daemon_redis_sentinel  a primary, a replica and three Sentinels (redis-sentinel on free ports):
#                          kill -9 of the primary mid-replay, the sink follows the promotion and
#                          the new primary ends as an uninterrupted run's; Sentinel unreachable at
#                          start: exit 1 (redis.required) or retry. 77 without redis-sentinel.
ddosd_daemon_test(daemon_redis_sentinel 300)
