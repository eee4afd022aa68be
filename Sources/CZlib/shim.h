#ifndef MEDLEDGER_CZLIB_SHIM_H
#define MEDLEDGER_CZLIB_SHIM_H

// zlib (zlib1g-dev): deflate/inflate for the segment log and compressed
// payloads, crc32 for record framing.
#include <zlib.h>

#endif
