/* SDR labels of one layer (reference-proofs.md §3.5). A label is SHA-256 of a 1248-byte message, the node's
 * prefix and 37 parent labels, so 20 compression blocks with its padding; inside a layer each label needs
 * the previous one, so a layer is one stream of hashes, as fast as one compression after another.
 *
 * The other cost is reading the parents: about half the base parents and every expander parent lie far away
 * in a large layer, so most of a node's 14 reads miss the caches (and the TLB). Hashing a node cannot wait for
 * them, so the labels of chunks of nodes are gathered first, in a loop of independent reads that the core
 * overlaps: by a second thread that runs ahead of the hashing one when `threads` is 2, else by the hashing
 * thread itself before each chunk. Only parents labelled after their chunk was gathered (the recent ones,
 * still in cache) are read while hashing.
 */
#ifndef SEALER_FSM_SDR_LABELS_H
#define SEALER_FSM_SDR_LABELS_H

#include <stdint.h>

#include "_sha256.h"

typedef struct {
    const uint8_t *replica_id; /* 32 bytes */
    uint32_t layer;            /* 1-based */
    uint64_t nodes;
    const uint8_t *parents;  /* the parent cache: nodes × 14 parents, u32 little-endian */
    const uint8_t *previous; /* the previous layer's labels, NULL for layer 1 */
    uint8_t *labels;         /* this layer's labels, nodes × 32 bytes, written in node order */
    hash_blocks_fn hash;
    int threads; /* 1: gather and hash on this thread; 2: one more thread gathers ahead */
    const volatile uint8_t *cancel; /* a byte that turns nonzero to ask for a stop; NULL for none */
    uint64_t bad_node, bad_parent;  /* the faulty cache entry, when SDR_LABELS_CORRUPT_CACHE */
} sdr_label_job;

enum { SDR_LABELS_DONE, SDR_LABELS_CANCELLED, SDR_LABELS_CORRUPT_CACHE, SDR_LABELS_NO_MEMORY };

/* Labels every node of the layer; stops early when `cancel` is set (checked every few thousand nodes) or
 * when the cache names a parent that cannot be one (a base parent at or after its node, or beyond the
 * layer), so that a corrupt cache never makes it read outside the layers. */
int sdr_label_layer(sdr_label_job *job);

#endif
