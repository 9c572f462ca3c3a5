# Inference benchmark (included from bench/CMakeLists.txt): ddos-bench-infer times the C engine;
# bench_inference.sh trains production-sized forests, times scikit-learn, runs it and prints the
# comparison. `cmake --build <dir> --target bench-inference` builds and runs it.
add_executable(ddos-bench-infer ${CMAKE_CURRENT_LIST_DIR}/infer_bench.c)
target_link_libraries(ddos-bench-infer PRIVATE ddosd_inference ddosd_options m)

add_custom_target(bench-inference
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/bench_inference.sh ${CMAKE_BINARY_DIR}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  USES_TERMINAL
  COMMENT "C inference engine vs scikit-learn predict_proba")
add_dependencies(bench-inference ddos-bench-infer)
