/* The SDR graph of rust-fil-proofs (reference-proofs.md §3.3-3.4): per node, 6 bucket-sampling parents in
 * the same layer (drawn with ChaCha8) and 8 expander parents in the previous layer (a 3-round Feistel
 * permutation whose round function is BLAKE2b-512).
 *
 * The round function only ever sees the right half of a Feistel value, which has `half_bits` ≤ 17 bits, so
 * `sdr_graph_init` evaluates it once for every possible half and key (at most 3 × 2^17 BLAKE2b calls, a few
 * milliseconds) and a permutation becomes six table look-ups. Without the tables a node costs about 48
 * BLAKE2b compressions (8 permutations × 3 rounds × 2 for cycle-walking), which is what made plain C take
 * ~107 s for a 512MiB graph.
 */
#ifndef SEALER_FSM_SDR_GRAPH_H
#define SEALER_FSM_SDR_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define SDR_BASE_DEGREE 6
#define SDR_EXPANSION_DEGREE 8
#define SDR_DEGREE (SDR_BASE_DEGREE + SDR_EXPANSION_DEGREE)
#define SDR_FEISTEL_ROUNDS 3
#define SDR_MIN_NODES 2ULL
#define SDR_MAX_NODES (1ULL << 31) /* 64GiB, the largest registered sector */

/* Sixteen words of ChaCha8 block `counter` (64-bit, words 12-13) under `key`, nonce zero. */
void chacha8_block(const uint32_t key[8], uint64_t counter, uint32_t out[16]);

/* Unkeyed BLAKE2b with a 64-byte digest (RFC 7693). */
void blake2b_512(uint8_t out[64], const uint8_t *data, size_t length);

typedef struct {
    uint32_t drg_key[8]; /* the DRG seed's 7 words; word 7 is each node's index */
    uint64_t nodes;
    int legacy; /* API 1.0.0: the predecessor goes last and expander values are truncated to 32 bits */
    unsigned half_bits;
    uint32_t *round_values; /* [round][right half] → round function value, SDR_FEISTEL_ROUNDS × 2^half_bits */
} sdr_graph;

/* 0, or ENOMEM. `drg_seed` is 28 bytes; the keys are the first three Feistel keys. */
int sdr_graph_init(sdr_graph *graph, const uint8_t drg_seed[28], const uint64_t feistel_keys[SDR_FEISTEL_ROUNDS],
                   uint64_t nodes, int legacy);
void sdr_graph_free(sdr_graph *graph);

/* The 14 parents of `node` in the order of the parent cache: 6 base, then 8 expander. */
void sdr_graph_parents(const sdr_graph *graph, uint32_t node, uint32_t parents[SDR_DEGREE]);

#endif
