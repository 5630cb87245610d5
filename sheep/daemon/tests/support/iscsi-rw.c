/* Tiny libiscsi initiator used by tgtd_e2e.rs:
 *   iscsi-rw URL write LBA FILE     write FILE (multiple of 512 B) at LBA
 *   iscsi-rw URL read LBA LEN OUT   read LEN bytes at LBA into OUT
 *   iscsi-rw URL sync               SYNCHRONIZE CACHE(10)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define CHUNK (256 * 1024)

static int check(struct scsi_task *t, const char *what, struct iscsi_context *c) {
    if (t == NULL || t->status != SCSI_STATUS_GOOD) {
        fprintf(stderr, "%s failed: %s\n", what, iscsi_get_error(c));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage\n"); return 2; }
    struct iscsi_context *c = iscsi_create_context("iqn.2024-01.test:iscsi-rw");
    struct iscsi_url *u = iscsi_parse_full_url(c, argv[1]);
    if (!u) { fprintf(stderr, "bad url: %s\n", iscsi_get_error(c)); return 2; }
    iscsi_set_targetname(c, u->target);
    iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE);
    if (iscsi_full_connect_sync(c, u->portal, u->lun) != 0) {
        fprintf(stderr, "connect: %s\n", iscsi_get_error(c)); return 1;
    }
    int lun = u->lun, rc = 0;
    if (!strcmp(argv[2], "write") && argc == 5) {
        uint64_t lba = strtoull(argv[3], 0, 0);
        FILE *f = fopen(argv[4], "rb");
        if (!f) { perror("open"); return 1; }
        unsigned char *buf = malloc(CHUNK);
        size_t n, total = 0;
        while ((n = fread(buf, 1, CHUNK, f)) > 0) {
            struct scsi_task *t = iscsi_write16_sync(c, lun, lba, buf, n, 512, 0, 0, 0, 0, 0);
            if (check(t, "write16", c)) { rc = 1; break; }
            scsi_free_scsi_task(t);
            lba += n / 512; total += n;
        }
        fclose(f);
        if (!rc) printf("wrote %zu bytes\n", total);
    } else if (!strcmp(argv[2], "read") && argc == 6) {
        uint64_t lba = strtoull(argv[3], 0, 0);
        size_t len = strtoull(argv[4], 0, 0), done = 0;
        FILE *f = fopen(argv[5], "wb");
        if (!f) { perror("open"); return 1; }
        while (done < len) {
            size_t n = len - done > CHUNK ? CHUNK : len - done;
            struct scsi_task *t = iscsi_read16_sync(c, lun, lba, n, 512, 0, 0, 0, 0, 0);
            if (check(t, "read16", c)) { rc = 1; break; }
            fwrite(t->datain.data, 1, t->datain.size, f);
            scsi_free_scsi_task(t);
            lba += n / 512; done += n;
        }
        fclose(f);
        if (!rc) printf("read %zu bytes\n", done);
    } else if (!strcmp(argv[2], "sync")) {
        struct scsi_task *t = iscsi_synchronizecache10_sync(c, lun, 0, 0, 0, 0);
        if (check(t, "sync", c)) rc = 1; else printf("synced\n");
    } else {
        fprintf(stderr, "usage\n"); rc = 2;
    }
    iscsi_logout_sync(c);
    iscsi_destroy_context(c);
    return rc;
}
