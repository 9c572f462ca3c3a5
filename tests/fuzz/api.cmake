# The API's request core (api/handler.c and its routes), without sockets.
ddosd_fuzz_target(fuzz_http http LIBS ddosd_api)
