/* libffi for Swift: the header, and its ffi_type globals as functions (Swift cannot keep the
 * address of a C global beyond a closure). Debian: libffi-dev. */
#ifndef STARLING_CFFI_SHIM_H
#define STARLING_CFFI_SHIM_H

#include <ffi.h>

static inline ffi_type *starling_ffi_void(void) { return &ffi_type_void; }
static inline ffi_type *starling_ffi_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *starling_ffi_double(void) { return &ffi_type_double; }
static inline ffi_type *starling_ffi_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *starling_ffi_pointer(void) { return &ffi_type_pointer; }

#endif
