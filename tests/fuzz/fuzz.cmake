# One line per libFuzzer harness: ddosd_fuzz_target(fuzz_<unit> <corpus dir> LIBS <libraries>).
# With DDOSD_FUZZ=ON every library is built with -fsanitize=fuzzer-no-link (root CMakeLists.txt),
# so coverage reaches the code under test, not only the harness.
ddosd_fuzz_target(fuzz_decode decode LIBS ddosd_decode)
ddosd_fuzz_target(fuzz_model model LIBS ddosd_inference)
ddosd_fuzz_target(fuzz_config config LIBS ddosd_common)
include(${CMAKE_CURRENT_LIST_DIR}/api.cmake OPTIONAL)
