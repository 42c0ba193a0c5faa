/* Fr32 padding in C: 127 data bytes <-> 128 padded bytes (four 32-byte chunks of 254 bits each). */
#ifndef SEALER_FSM_FR32_H
#define SEALER_FSM_FR32_H

#include <stddef.h>
#include <stdint.h>

void fr32_pad_blocks(uint8_t *out, const uint8_t *in, size_t blocks);
void fr32_unpad_blocks(uint8_t *out, const uint8_t *in, size_t blocks);

#endif
