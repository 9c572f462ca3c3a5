# One line per unit test executable: ddosd_unit_test(test_<module> LIBS <libraries>).
ddosd_unit_test(test_decode LIBS ddosd_decode)
ddosd_unit_test(test_ring LIBS ddosd_common)
ddosd_unit_test(test_flow LIBS ddosd_features)
ddosd_unit_test(test_flow_table LIBS ddosd_features)
ddosd_unit_test(test_flow_csv LIBS ddosd_features)
ddosd_unit_test(test_manifest LIBS ddosd_manifest)
ddosd_unit_test(test_model LIBS ddosd_inference)
# Scaffolding shared by the flow tests (flow_test_util.h): compiled into each test that uses it.
foreach(t test_flow test_flow_table test_flow_csv test_manifest)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/flow_test_util.c)
  endif()
endforeach()
