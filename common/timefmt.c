/* timefmt.c - the ISO 8601 formatter of common/timefmt.h.
 *
 * Owns nothing. DESIGN: the date comes from H. Hinnant's civil_from_days (integer arithmetic,
 * proleptic Gregorian, exact for every uint64 second count), so the output is the same bytes
 * gmtime_r + strftime("%Y-%m-%dT%H:%M:%S") give, without their cost: the API writes two times
 * per verdict it serves. */
#include "common/timefmt.h"

#include <string.h>

/* Days since 1970-01-01 to a proleptic Gregorian date. */
static void civil_from_days(uint64_t days, uint64_t *y, unsigned *m, unsigned *d)
{
    uint64_t z = days + 719468u;
    uint64_t era = z / 146097u;
    unsigned doe = (unsigned)(z - era * 146097u);
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;
    *d = doy - (153u * mp + 2u) / 5u + 1u;
    *m = mp < 10u ? mp + 3u : mp - 9u;
    *y = yoe + era * 400u + (*m <= 2u);
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10u % 10u);
    p[1] = (char)('0' + v % 10u);
    return p + 2;
}

/* The year with at least four digits. */
static char *put_year(char *p, uint64_t y)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + y % 10u);
        y /= 10u;
    } while (y || n < 4);
    while (n)
        *p++ = tmp[--n];
    return p;
}

char *dd_time_iso8601(char *buf, size_t len, uint64_t secs, uint32_t frac_us, unsigned digits)
{
    char tmp[DD_TIME_ISO8601_MAX], *p = tmp;
    uint64_t y;
    unsigned mo, d, sod = (unsigned)(secs % 86400u);
    civil_from_days(secs / 86400u, &y, &mo, &d);
    p = put_year(p, y);
    *p++ = '-';
    p = put2(p, mo);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, sod / 3600u);
    *p++ = ':';
    p = put2(p, sod / 60u % 60u);
    *p++ = ':';
    p = put2(p, sod % 60u);
    if (digits > 0) {
        *p++ = '.';
        unsigned div = 100000u;
        for (unsigned i = 0; i < digits && i < 6; i++, div /= 10u)
            *p++ = (char)('0' + frac_us / div % 10u);
    }
    *p++ = 'Z';
    if (len == 0)
        return buf;
    size_t n = (size_t)(p - tmp);
    if (n >= len)
        n = len - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return buf;
}

char *dd_time_iso8601_us(char *buf, size_t len, uint64_t us, unsigned digits)
{
    return dd_time_iso8601(buf, len, us / 1000000u, (uint32_t)(us % 1000000u), digits);
}
