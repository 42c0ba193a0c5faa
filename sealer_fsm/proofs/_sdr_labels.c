/* SDR labels of one layer: see _sdr_labels.h. */
#include "_sdr_labels.h"

#include <string.h>

#include "_sdr_graph.h"

#define LABEL 32
#define MESSAGE_BYTES 1248        /* prefix (64) + 37 parent labels */
#define PADDED_BYTES (20 * 64)    /* the message with SHA-256 padding: 20 blocks */
#define CANCEL_CHECK_INTERVAL 4096 /* nodes between two looks at the cancel flag: a few milliseconds */
#define PREFETCH_AHEAD 4           /* nodes ahead whose parents are fetched into cache while hashing */

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_be(uint8_t *p, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(value >> (8 * (bytes - 1 - i)));
}

static void load_parents(const sdr_label_job *job, uint64_t node, uint32_t parents[SDR_DEGREE]) {
    const uint8_t *row = job->parents + node * SDR_DEGREE * 4;
    for (int i = 0; i < SDR_DEGREE; i++) parents[i] = load_le32(row + 4 * i);
}

/* The index of the first impossible parent, or -1: base parents come before their node, expander parents
 * lie inside the previous layer. */
static int first_bad_parent(const sdr_label_job *job, uint64_t node, const uint32_t parents[SDR_DEGREE]) {
    for (int i = 0; i < SDR_DEGREE; i++)
        if (parents[i] >= (i < SDR_BASE_DEGREE ? node : job->nodes)) return i;
    return -1;
}

static void prefetch_parents(const sdr_label_job *job, uint64_t node) {
    uint32_t parents[SDR_DEGREE];
    load_parents(job, node, parents);
    for (int i = 0; i < SDR_BASE_DEGREE; i++) __builtin_prefetch(job->labels + (uint64_t)parents[i] * LABEL);
    if (job->previous)
        for (int i = SDR_BASE_DEGREE; i < SDR_DEGREE; i++)
            __builtin_prefetch(job->previous + (uint64_t)parents[i] * LABEL);
}

/* Copies the parents' labels after the prefix: layer 1 repeats its 6 base parents (6 × 6 + 1 = 37 labels),
 * later layers their 14 parents, the expander ones from the previous layer (14 + 14 + 9 = 37). Every size
 * is a constant, so the copies compile to a few vector moves. */
static void gather_layer_one(const sdr_label_job *job, const uint32_t parents[SDR_DEGREE], uint8_t *message) {
    uint8_t *out = message + 64;
    for (int i = 0; i < SDR_BASE_DEGREE; i++) memcpy(out + LABEL * i, job->labels + (uint64_t)parents[i] * LABEL, LABEL);
    for (int copy = 1; copy < 6; copy++) memcpy(out + copy * SDR_BASE_DEGREE * LABEL, out, SDR_BASE_DEGREE * LABEL);
    memcpy(out + 36 * LABEL, out, LABEL);
}

static void gather_expanded(const sdr_label_job *job, const uint32_t parents[SDR_DEGREE], uint8_t *message) {
    uint8_t *out = message + 64;
    for (int i = 0; i < SDR_BASE_DEGREE; i++) memcpy(out + LABEL * i, job->labels + (uint64_t)parents[i] * LABEL, LABEL);
    for (int i = SDR_BASE_DEGREE; i < SDR_DEGREE; i++)
        memcpy(out + LABEL * i, job->previous + (uint64_t)parents[i] * LABEL, LABEL);
    memcpy(out + SDR_DEGREE * LABEL, out, SDR_DEGREE * LABEL);
    memcpy(out + 2 * SDR_DEGREE * LABEL, out, 9 * LABEL);
}

int sdr_label_layer(sdr_label_job *job) {
    uint8_t message[PADDED_BYTES] __attribute__((aligned(64)));
    memset(message, 0, sizeof message);
    memcpy(message, job->replica_id, 32);
    store_be(message + 32, job->layer, 4);

    /* Node 0 has no parents: its message is the 64-byte prefix alone. */
    uint8_t first[128] = {0};
    memcpy(first, message, 64);
    first[64] = 0x80;
    store_be(first + 120, 64 * 8, 8);
    job->hash(job->labels, first, 2);

    message[MESSAGE_BYTES] = 0x80;
    store_be(message + PADDED_BYTES - 8, MESSAGE_BYTES * 8, 8);
    for (uint64_t node = 1; node < job->nodes; node++) {
        if (node % CANCEL_CHECK_INTERVAL == 0 && job->cancel && __atomic_load_n(job->cancel, __ATOMIC_RELAXED))
            return SDR_LABELS_CANCELLED;
        uint32_t parents[SDR_DEGREE];
        load_parents(job, node, parents);
        int bad = first_bad_parent(job, node, parents);
        if (bad >= 0) {
            job->bad_node = node;
            job->bad_parent = parents[bad];
            return SDR_LABELS_CORRUPT_CACHE;
        }
        if (node + PREFETCH_AHEAD < job->nodes) prefetch_parents(job, node + PREFETCH_AHEAD);
        store_be(message + 36, node, 8);
        (job->previous ? gather_expanded : gather_layer_one)(job, parents, message);
        job->hash(job->labels + node * LABEL, message, PADDED_BYTES / 64);
    }
    return SDR_LABELS_DONE;
}
