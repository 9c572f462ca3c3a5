# Integration tests (label "integration"): ddos-flows run end to end on captures.
#   fixtures         the crafted captures of tests/data (tests/data/make_fixtures.py writes them
#                    and the expected numbers in fixtures.json); needs nothing outside the repo.
#   shared_captures  every capture of ../shared/data/captures (third-party traffic); meant for
#                    the sanitizer build; skipped (exit 77) when ../shared/data is absent.
# Both are stdlib-only Python scripts; tshark, when installed, is used as an independent decoder.
set(DDOSD_PYTHON /usr/bin/python3)

add_test(NAME fixtures
  COMMAND ${DDOSD_PYTHON} ${PROJECT_SOURCE_DIR}/tests/integration/run_fixtures.py
    --bin $<TARGET_FILE:ddos-flows> --data ${PROJECT_SOURCE_DIR}/tests/data)
set_tests_properties(fixtures PROPERTIES LABELS integration TIMEOUT 300)

add_test(NAME shared_captures
  COMMAND ${DDOSD_PYTHON} ${PROJECT_SOURCE_DIR}/tests/integration/shared_captures.py
    --bin $<TARGET_FILE:ddos-flows>)
set_tests_properties(shared_captures PROPERTIES SKIP_RETURN_CODE 77 LABELS integration
  TIMEOUT 600)

# Live capture on a veth pair in a namespace the test creates (root only; 77 = skipped).
add_test(NAME live_capture
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/integration/live_capture.sh $<TARGET_FILE:ddos-flows>)
set_tests_properties(live_capture PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120
  RUN_SERIAL TRUE)
ddosd_inference_integration_test(model_parity integration/model_parity.py ARGS --bin $<TARGET_FILE:ddos-model>)
# Redis sink against a real redis-server the test starts itself on a free loopback port (no
# persistence, a temporary directory); skipped (77) when redis-server is not installed.
add_executable(redis_sink_test ${CMAKE_CURRENT_LIST_DIR}/redis_sink_test.c)
target_link_libraries(redis_sink_test PRIVATE ddosd_verdicts ddosd_options)
add_test(NAME redis_sink COMMAND redis_sink_test)
set_tests_properties(redis_sink PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 180)

# The training pipeline, small and twice: same seed, byte-identical model (tests/integration/
# train_quick.sh). Needs Debian's python3-sklearn, pandas and matplotlib (scripts/deps.sh test).
add_test(NAME train_quick
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/integration/train_quick.sh ${PROJECT_BINARY_DIR})
set_tests_properties(train_quick PROPERTIES LABELS integration TIMEOUT 900)
# Per-area integration tests, each owned by its area (absent until that area exists).
include(${CMAKE_CURRENT_LIST_DIR}/daemon.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/api.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/packaging.cmake OPTIONAL)
