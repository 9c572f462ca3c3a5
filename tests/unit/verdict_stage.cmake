# Unit tests of the verdict stage's table and the API's verdict store (owned by verdicts/).
ddosd_unit_test(test_verdict_store LIBS ddosd_verdicts)
ddosd_unit_test(test_verdict_table LIBS ddosd_verdicts ddosd_common)
