/*
 * Decodes sheepdog headers with the generated headers of docs/wire/ only
 * (no hand-written offsets): each record of the input file is one byte,
 * 'Q' (request) or 'R' (response), then the 48-byte header as on the wire.
 * Prints one line per record; sheep/daemon/tests/wire_views.rs prints the same
 * lines from the Rust decode and compares.
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -I docs/wire decode_headers.c
 * Check: sparse -Wbitwise -I docs/wire decode_headers.c  (clean);
 *        with -DSPARSE_WRONG it must warn (a __le32 used as a host integer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sheepdog_admin.h"
#include "sheepdog_client.h"
#include "sheepdog_common.h"
#include "sheepdog_peer.h"

static int is_obj_op(uint8_t op)
{
	switch (op) {
	case SD_CLIENT_OP_CREATE_AND_WRITE_OBJ:
	case SD_CLIENT_OP_READ_OBJ:
	case SD_CLIENT_OP_WRITE_OBJ:
	case SD_PEER_OP_CREATE_AND_WRITE_PEER:
	case SD_PEER_OP_READ_PEER:
	case SD_PEER_OP_WRITE_PEER:
		return 1;
	default:
		return 0;
	}
}

static void print_req(const struct sd_req_header *h)
{
	printf("req proto_ver=%u opcode=0x%02x flags=0x%04x epoch=%" PRIu32 " id=%" PRIu32
	       " data_length=%" PRIu32,
	       h->proto_ver, h->opcode, le16_to_cpu(h->flags), le32_to_cpu(h->epoch),
	       le32_to_cpu(h->id), le32_to_cpu(h->data_length));
	if (is_obj_op(h->opcode)) {
		struct sd_obj_req obj;
		memcpy(&obj, h->body, sizeof(obj));
		printf(" oid=0x%016" PRIx64 " offset=%" PRIu32 " copies=%u", le64_to_cpu(obj.oid),
		       le32_to_cpu(obj.offset), obj.copies);
	}
	if (le16_to_cpu(h->flags) & SD_REQ_FLAGS_WRITE)
		printf(" write");
	printf("\n");
#ifdef SPARSE_WRONG
	uint32_t wrong = h->id; /* a __le32 used as a host integer: sparse must warn */
	printf("%u\n", wrong);
#endif
}

static void print_rsp(const struct sd_rsp_header *h)
{
	printf("rsp proto_ver=%u opcode=0x%02x epoch=%" PRIu32 " id=%" PRIu32
	       " data_length=%" PRIu32 " result=0x%02" PRIx32 "%s\n",
	       h->proto_ver, h->opcode, le32_to_cpu(h->epoch), le32_to_cpu(h->id),
	       le32_to_cpu(h->data_length), le32_to_cpu(h->result),
	       le32_to_cpu(h->result) == SD_RESULT_SUCCESS ? " success" : "");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s RECORDS\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	unsigned char rec[1 + 48];
	while (fread(rec, 1, sizeof(rec), f) == sizeof(rec)) {
		if (rec[0] == 'Q') {
			struct sd_req_header h;
			memcpy(&h, rec + 1, sizeof(h));
			print_req(&h);
		} else {
			struct sd_rsp_header h;
			memcpy(&h, rec + 1, sizeof(h));
			print_rsp(&h);
		}
	}
	fclose(f);
	return 0;
}
