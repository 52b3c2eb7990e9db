#ifndef REEL_CPOSTGRES_SHIM_H
#define REEL_CPOSTGRES_SHIM_H
// libpq's public API (Debian: libpq-dev). libpq has no variadic calls or value macros Reel needs yet;
// wrappers for any that appear go here as static inline functions.
#include <libpq-fe.h>
#endif
