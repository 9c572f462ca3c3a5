# One line per libFuzzer harness: ddosd_fuzz_target(fuzz_<unit> <corpus dir> LIBS <libraries>).
ddosd_fuzz_target(fuzz_decode decode LIBS ddosd_decode)
