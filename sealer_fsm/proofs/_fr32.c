/* Fr32 padding on 64-bit words: see reference-proofs.md §1 and `_reference.fr32_pad`.
 *
 * Chunk k of a block holds stream bits 254k .. 254k+253, which start at byte 31k + (6k / 8) of the block,
 * bit (6k mod 8): (0, 0), (31, 6), (63, 4), (95, 2). Each chunk is four 64-bit words shifted out of the
 * input, the last one with its top two bits cleared.
 */
#include "_fr32.h"

#include <string.h>

#define LOW_62_BITS 0x3FFFFFFFFFFFFFFFULL

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t value;
    memcpy(&value, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    value = __builtin_bswap64(value);
#endif
    return value;
}

static inline void store_le64(uint8_t *p, uint64_t value) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    value = __builtin_bswap64(value);
#endif
    memcpy(p, &value, 8);
}

/* One chunk from `src` shifted right by `shift` (2, 4 or 6) bits. The last word takes its top `shift` bits
 * from src[32], of which the top two are cleared anyway: with shift 2 (the block's last chunk, where src[32]
 * lies past the block) none are needed, so the block is never over-read. */
static inline void pad_shifted_chunk(uint8_t *out, const uint8_t *src, unsigned shift) {
    for (int word = 0; word < 3; word++)
        store_le64(out + 8 * word, load_le64(src + 8 * word) >> shift | load_le64(src + 8 * word + 8) << (64 - shift));
    uint64_t last = load_le64(src + 24) >> shift;
    if (shift > 2) last |= load_le64(src + 32) << (64 - shift);
    store_le64(out + 24, last & LOW_62_BITS);
}

void fr32_pad_blocks(uint8_t *out, const uint8_t *in, size_t blocks) {
    for (size_t block = 0; block < blocks; block++, in += 127, out += 128) {
        memcpy(out, in, 24);
        store_le64(out + 24, load_le64(in + 24) & LOW_62_BITS);
        pad_shifted_chunk(out + 32, in + 31, 6);
        pad_shifted_chunk(out + 64, in + 63, 4);
        pad_shifted_chunk(out + 96, in + 95, 2);
    }
}

/* The inverse joins 254-bit groups with a bit accumulator; it is not on any hot path (unsealing only). */
void fr32_unpad_blocks(uint8_t *out, const uint8_t *in, size_t blocks) {
    for (size_t block = 0; block < blocks; block++, in += 128, out += 127) {
        uint64_t pending = 0;
        unsigned pending_bits = 0, written = 0;
        for (int word = 0; word < 16; word++) {
            uint64_t value = load_le64(in + 8 * word);
            unsigned bits = 64;
            if (word % 4 == 3) {
                value &= LOW_62_BITS;
                bits = 62;
            }
            pending |= value << pending_bits;
            if (pending_bits + bits >= 64) {
                store_le64(out + written, pending);
                written += 8;
                pending = pending_bits ? value >> (64 - pending_bits) : 0;
                pending_bits = pending_bits + bits - 64;
            } else {
                pending_bits += bits;
            }
        }
        for (unsigned byte = 0; written < 127; byte++) out[written++] = (uint8_t)(pending >> (8 * byte));
    }
}
