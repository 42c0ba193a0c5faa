/* Parents of SDR graph nodes: see _sdr_graph.h and reference-proofs.md §3.3-3.4. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "_sdr_graph.h"

static unsigned feistel_half_bits(uint64_t elements) {
    unsigned half_bits = 1;
    while ((1ULL << (2 * half_bits)) < elements) half_bits++;
    return half_bits;
}

/* The round function of rust-fil-proofs' `feistel`: the first 8 bytes, big-endian, of
 * BLAKE2b-512(right as u64 BE ‖ key as u64 BE), masked to the half width. */
static uint32_t feistel_round_function(uint64_t right, uint64_t key, unsigned half_bits) {
    uint8_t message[16], digest[64];
    for (int i = 0; i < 8; i++) {
        message[i] = (uint8_t)(right >> (56 - 8 * i));
        message[8 + i] = (uint8_t)(key >> (56 - 8 * i));
    }
    blake2b_512(digest, message, sizeof message);
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) value = value << 8 | digest[i];
    return (uint32_t)(value & ((1ULL << half_bits) - 1));
}

int sdr_graph_init(sdr_graph *graph, const uint8_t drg_seed[28], const uint64_t feistel_keys[SDR_FEISTEL_ROUNDS],
                   uint64_t nodes, int legacy) {
    memset(graph, 0, sizeof *graph);
    for (int i = 0; i < 7; i++)
        graph->drg_key[i] = (uint32_t)drg_seed[4 * i] | (uint32_t)drg_seed[4 * i + 1] << 8 |
                            (uint32_t)drg_seed[4 * i + 2] << 16 | (uint32_t)drg_seed[4 * i + 3] << 24;
    graph->nodes = nodes;
    graph->legacy = legacy;
    graph->half_bits = feistel_half_bits(nodes * SDR_EXPANSION_DEGREE);
    size_t halves = (size_t)1 << graph->half_bits;
    graph->round_values = malloc(SDR_FEISTEL_ROUNDS * halves * sizeof *graph->round_values);
    if (graph->round_values == NULL) return ENOMEM;
    for (int round = 0; round < SDR_FEISTEL_ROUNDS; round++)
        for (size_t right = 0; right < halves; right++)
            graph->round_values[round * halves + right] =
                feistel_round_function(right, feistel_keys[round], graph->half_bits);
    return 0;
}

void sdr_graph_free(sdr_graph *graph) {
    free(graph->round_values);
    graph->round_values = NULL;
}

/* ---- DRG (bucket sampling) parents ------------------------------------------------------------------ */

/* rand_chacha's ChaCha8Rng seeded with drg_seed ‖ u32_le(node): a u64 draw joins two words, low first. The
 * five parents take ten draws, 20 words, so two blocks are all a node ever needs. */
typedef struct {
    uint32_t words[32];
    int next;
} drg_rng;

static uint64_t next_u64(drg_rng *rng) {
    uint64_t low = rng->words[rng->next], high = rng->words[rng->next + 1];
    rng->next += 2;
    return low | high << 32;
}

static void drg_parents(const sdr_graph *graph, uint32_t node, uint32_t parents[SDR_BASE_DEGREE]) {
    if (node < 2) {
        memset(parents, 0, SDR_BASE_DEGREE * sizeof *parents);
        return;
    }
    uint32_t key[8];
    memcpy(key, graph->drg_key, sizeof key);
    key[7] = node;
    drg_rng rng = {.next = 0};
    chacha8_block(key, 0, rng.words);
    chacha8_block(key, 1, rng.words + 16);

    const uint64_t m_prime = SDR_BASE_DEGREE - 1;
    const uint64_t metagraph_node = (uint64_t)node * m_prime;
    const uint64_t buckets = 64 - (uint64_t)__builtin_clzll(metagraph_node - 1); /* ceil(log2(metagraph_node)) */
    /* API 1.0.0 puts the predecessor last, later versions first. */
    uint32_t *drawn = graph->legacy ? parents : parents + 1;
    parents[graph->legacy ? m_prime : 0] = node - 1;
    for (uint64_t i = 0; i < m_prime; i++) {
        uint64_t bucket = next_u64(&rng) % buckets + 1;
        uint64_t largest = metagraph_node < (1ULL << bucket) ? metagraph_node : 1ULL << bucket;
        uint64_t smallest = largest >> 1 > 2 ? largest >> 1 : 2;
        uint64_t distance = smallest + next_u64(&rng) % (largest - smallest + 1);
        uint32_t parent = (uint32_t)((metagraph_node - distance) / m_prime);
        drawn[i] = parent == node ? node - 1 : parent;
    }
}

/* ---- expander (Feistel) parents --------------------------------------------------------------------- */

static uint64_t feistel_encode(const sdr_graph *graph, uint64_t value) {
    const unsigned half_bits = graph->half_bits;
    const uint64_t mask = (1ULL << half_bits) - 1;
    uint64_t left = value >> half_bits, right = value & mask;
    for (int round = 0; round < SDR_FEISTEL_ROUNDS; round++) {
        uint64_t mixed = left ^ graph->round_values[((uint64_t)round << half_bits) | right];
        left = right;
        right = mixed;
    }
    return left << half_bits | right;
}

static void expander_parents(const sdr_graph *graph, uint32_t node, uint32_t parents[SDR_EXPANSION_DEGREE]) {
    const uint64_t elements = graph->nodes * SDR_EXPANSION_DEGREE;
    for (uint64_t slot = 0; slot < SDR_EXPANSION_DEGREE; slot++) {
        uint64_t value = feistel_encode(graph, (uint64_t)node * SDR_EXPANSION_DEGREE + slot);
        while (value >= elements) value = feistel_encode(graph, value); /* cycle-walk back into the domain */
        if (graph->legacy) value = (uint32_t)value; /* API 1.0.0 truncated before dividing */
        parents[slot] = (uint32_t)(value / SDR_EXPANSION_DEGREE);
    }
}

void sdr_graph_parents(const sdr_graph *graph, uint32_t node, uint32_t parents[SDR_DEGREE]) {
    drg_parents(graph, node, parents);
    expander_parents(graph, node, parents + SDR_BASE_DEGREE);
}
