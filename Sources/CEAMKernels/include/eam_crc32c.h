/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the .eam format. */
#ifndef EAM_CRC32C_H
#define EAM_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continues a CRC-32C: pass 0 to start. crc32c("123456789") == 0xE3069283. */
uint32_t eam_crc32c(uint32_t crc, const void *data, size_t length);

#endif
