/* timefmt.h - the one ISO 8601 / RFC 3339 UTC time formatter ("2024-05-01T12:00:00.123Z").
 *
 * Every text time ddosd writes goes through here: log lines (seconds), the API's verdict times
 * (milliseconds) and CrowdSec "until" (seconds), --verdicts-out and the notify event
 * (microseconds). Pure functions over caller buffers: any thread, no allocation, no locale, no
 * gmtime_r or strftime (the API formats two times per request on its hot path). */
#ifndef DD_COMMON_TIMEFMT_H
#define DD_COMMON_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any time these functions write, NUL included (a 6-digit year with 6 fraction digits
 * is 30 bytes; a 9-digit year from seconds is 25). */
#define DD_TIME_ISO8601_MAX 40u

/* Writes secs (UTC seconds since the epoch) as "YYYY-MM-DDTHH:MM:SS", then, when digits > 0, a
 * '.' and the first `digits` (1..6) digits of frac_us (microseconds, 0..999999; cut, never
 * rounded), then "Z". Years below 10000 have four digits, later ones all of theirs (what
 * strftime's %Y prints). Writes into buf of len bytes, NUL-terminated and cut as snprintf would
 * (nothing when len is 0). Returns buf. */
char *dd_time_iso8601(char *buf, size_t len, uint64_t secs, uint32_t frac_us, unsigned digits);

/* dd_time_iso8601 of a time in microseconds since the epoch. */
char *dd_time_iso8601_us(char *buf, size_t len, uint64_t us, unsigned digits);

#endif
