# Stress tests (label "stress"): many threads, many iterations. scripts/test.sh also builds them
# with -fsanitize=thread.
add_executable(stress_ring stress/stress_ring.c)
target_link_libraries(stress_ring PRIVATE ddosd_common)
add_test(NAME stress_ring COMMAND stress_ring 2000000)
set_tests_properties(stress_ring PROPERTIES LABELS stress TIMEOUT 300)
include(${CMAKE_CURRENT_LIST_DIR}/daemon.cmake OPTIONAL)
