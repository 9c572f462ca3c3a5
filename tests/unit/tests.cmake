# One line per unit test executable: ddosd_unit_test(test_<module> LIBS <libraries>).
ddosd_unit_test(test_decode LIBS ddosd_decode)
ddosd_unit_test(test_ring LIBS ddosd_common)
ddosd_unit_test(test_flow LIBS ddosd_features)
ddosd_unit_test(test_flow_table LIBS ddosd_features)
ddosd_unit_test(test_flow_csv LIBS ddosd_features)
ddosd_unit_test(test_manifest LIBS ddosd_manifest)
ddosd_unit_test(test_model LIBS ddosd_inference)
