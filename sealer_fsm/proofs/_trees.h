/* Poseidon oct-trees over files: the base trees of TreeC and TreeR-last, streamed chunk by chunk on threads.
 *
 * A base tree has `leaves` = 8^k leaves. Its leaves are produced chunk by chunk from input files (column
 * hashes of the label layers, the encoded replica, the snap-encoded replica, or a file of leaves as is); each
 * chunk is hashed up to its own root in memory and every row the output file keeps is written at its offset
 * with pwrite, so memory stays at a few chunks whatever the sector size. The output file holds the rows
 * from `first_stored_row` up to the root, lowest first, as the reference's merkletree stores do (DiskStore:
 * every row; LevelCacheStore: the rows above `rows_to_discard`).
 */
#ifndef SEALER_FSM_TREES_H
#define SEALER_FSM_TREES_H

#include <stdint.h>

#include "_poseidon.h"

#define TREE_NODE 32
#define TREE_ARITY 8
#define TREE_MAX_INPUTS 16

typedef enum {
    LEAVES_COLUMNS = 0,     /* leaf i = Poseidon-MerkleTree(arity = inputs) over label i of every layer */
    LEAVES_ENCODE = 1,      /* leaf i = data i + key i (inputs: data, key); written to replica_fd */
    LEAVES_SNAP_ENCODE = 2, /* leaf i = key i + data i · rho(i) (inputs: data, key); written to replica_fd */
    LEAVES_FILE = 3,        /* leaf i = input node i (one input) */
} leaf_kind;

typedef enum {
    TREE_OK = 0,
    TREE_IO = 1,        /* errno in `error_number`, input/output index in `error_input` (-1: replica, -2: tree) */
    TREE_SHORT = 2,     /* input `error_input` ended before node `error_node` */
    TREE_NOT_FIELD = 3, /* input `error_input` holds a value ≥ p at node `error_node` */
    TREE_CANCELLED = 4,
    TREE_NO_MEMORY = 5,
} tree_status;

typedef struct {
    leaf_kind kind;
    int inputs[TREE_MAX_INPUTS]; /* file descriptors; -1 reads as zeros (an all-zero data file) */
    int input_count;
    int replica_fd; /* where ENCODE / SNAP_ENCODE write the leaves they produce, -1 for nowhere */
    int tree_fd;    /* the rows from first_stored_row up, lowest first; -1 to keep none (root only) */
    uint64_t leaves;
    uint64_t node_offset; /* index of this base tree's first node in the input and replica files */
    int first_stored_row;
    const fr *rhos; /* SNAP_ENCODE: rho(high) in Montgomery form, high = node index >> rho_shift */
    int rho_shift;
    int threads;
    const volatile uint8_t *cancel;
    /* results */
    uint8_t root[TREE_NODE];
    tree_status status;
    int error_number, error_input;
    uint64_t error_node;
} tree_job;

/* Builds the tree; fills job->root, or job->status and the error fields. */
void tree_build(tree_job *job);

/* Rows above `count` leaves, `levels` times: out receives count/8 + count/64 + ... nodes (8-ary, MerkleTree). */
void tree_levels(const uint8_t *leaves, uint64_t count, int levels, uint8_t *out);

#endif
