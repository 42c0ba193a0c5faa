/* The one hash the commitment trees need: SHA-256 of a 64-byte node pair, top two bits of the result cleared.
 *
 * Two implementations of the same function: SHA-NI (x86 SHA extensions, four nodes interleaved so the
 * sha256rnds2 latency of one stream is hidden behind the others) and portable C. Both hash `count`
 * consecutive pairs `in[64i .. 64i+64)` into `out[32i .. 32i+32)`, and `out` may equal `in`, so a tree level
 * can be reduced in place.
 */
#ifndef SEALER_FSM_SHA256_H
#define SEALER_FSM_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef void (*hash_pairs_fn)(uint8_t *out, const uint8_t *in, size_t count);

void sha256_prepare_tables(void);
void hash_pairs_portable(uint8_t *out, const uint8_t *in, size_t count);

#if defined(__x86_64__) || defined(__i386__)
#define SEALER_FSM_HAVE_SHA_NI 1
int cpu_has_sha_ni(void);
void hash_pairs_sha_ni(uint8_t *out, const uint8_t *in, size_t count);
#endif

#endif
