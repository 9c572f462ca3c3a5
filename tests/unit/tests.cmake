# One line per unit test executable: ddosd_unit_test(test_<module> LIBS <libraries>).
ddosd_unit_test(test_decode LIBS ddosd_decode)
