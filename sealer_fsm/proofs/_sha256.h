/* The one hash the commitment trees need: SHA-256 of a 64-byte node pair, top two bits of the result cleared.
 *
 * Three implementations of the same function: portable C (_sha256.c), and on x86 (_sha256_x86.c) SHA-NI
 * (four nodes interleaved, which hides sha256rnds2 latency where the core can issue them faster than they
 * complete) and AVX-512 (sixteen nodes in the lanes of 512-bit registers, faster where SHA-NI is
 * throughput-bound, as on recent Intel Xeons). All hash `count` consecutive pairs `in[64i .. 64i+64)` into
 * `out[32i .. 32i+32)`, and `out` may equal `in`, so a tree level can be reduced in place.
 */
#ifndef SEALER_FSM_SHA256_H
#define SEALER_FSM_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef void (*hash_pairs_fn)(uint8_t *out, const uint8_t *in, size_t count);

/* The other shape, for long messages hashed one after another (SDR labels): SHA-256 over `count` 64-byte
 * blocks that already hold the whole message and its padding, written to `out` with the top two bits of
 * byte 31 cleared. One stream, so its speed is the latency of one compression after another. */
typedef void (*hash_blocks_fn)(uint8_t out[32], const uint8_t *blocks, size_t count);

extern const uint32_t sha256_k[64];
extern const uint32_t sha256_iv[8];
extern uint32_t sha256_padding_block_wk[64]; /* filled by sha256_prepare_tables() */

void sha256_prepare_tables(void);
void hash_pairs_portable(uint8_t *out, const uint8_t *in, size_t count);
void hash_blocks_portable(uint8_t out[32], const uint8_t *blocks, size_t count);

#if defined(__x86_64__)
#define SEALER_FSM_X86 1
int cpu_has_sha_ni(void);
int cpu_has_avx512(void);
void hash_pairs_sha_ni(uint8_t *out, const uint8_t *in, size_t count);
void hash_pairs_avx512(uint8_t *out, const uint8_t *in, size_t count);
void hash_blocks_sha_ni(uint8_t out[32], const uint8_t *blocks, size_t count);
#endif

#endif
