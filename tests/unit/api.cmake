# The REST API (api/): a real server on a loopback port with a real verdict store.
ddosd_unit_test(test_api LIBS ddosd_api)
target_sources(test_api PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/verdict_gen.c)
set_tests_properties(test_api PROPERTIES TIMEOUT 120)
