# The REST API (api/): a real server on a loopback port with a real verdict store.
ddosd_unit_test(test_api LIBS ddosd_api)
set_tests_properties(test_api PROPERTIES TIMEOUT 120)
