/* compiler.h - portable attribute and branch-hint macros used by every module.
 *
 * Header only; owns nothing. Kept tiny so that any file may include it. */
#ifndef DD_COMMON_COMPILER_H
#define DD_COMMON_COMPILER_H

#define DD_NODISCARD       __attribute__((warn_unused_result))
#define DD_PRINTF(fmt, va) __attribute__((format(printf, fmt, va)))
#define DD_LIKELY(x)       __builtin_expect(!!(x), 1)
#define DD_UNLIKELY(x)     __builtin_expect(!!(x), 0)
#define DD_UNUSED          __attribute__((unused))
#define DD_CACHELINE       64
#define DD_ALIGNED_CL      __attribute__((aligned(DD_CACHELINE)))
#define DD_ARRAY_LEN(a)    (sizeof(a) / sizeof((a)[0]))

#endif
