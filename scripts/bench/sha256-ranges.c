// SPDX-License-Identifier: Apache-2.0
//
// The C yardstick of `pnpm bench`: SHA-256 of byte ranges of files, read with
// pread(2) into one page-aligned 1 MiB buffer and hashed with OpenSSL's EVP
// interface (SHA-NI where the CPU has it). One process hashes its ranges one
// after the other; the bench runs one process per core for the all-core limit.
//
//   cc -O2 -o sha256-ranges sha256-ranges.c -lcrypto
//   sha256-ranges FILE OFFSET LENGTH [FILE OFFSET LENGTH ...]
//
// Prints "<hex>  FILE OFFSET LENGTH" per range. Exit 1 on any I/O error.
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1 << 20)

int main(int argc, char **argv) {
  if (argc < 4 || (argc - 1) % 3 != 0) {
    fprintf(stderr, "usage: sha256-ranges FILE OFFSET LENGTH [...]\n");
    return 2;
  }
  void *buf = NULL;
  if (posix_memalign(&buf, 4096, CHUNK) != 0) {
    fprintf(stderr, "sha256-ranges: out of memory\n");
    return 1;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  const EVP_MD *md = EVP_sha256();
  for (int i = 1; i < argc; i += 3) {
    const char *path = argv[i];
    long long off = strtoll(argv[i + 1], NULL, 10);
    long long left = strtoll(argv[i + 2], NULL, 10);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
      fprintf(stderr, "sha256-ranges: %s: %s\n", path, strerror(errno));
      return 1;
    }
    EVP_DigestInit_ex(ctx, md, NULL);
    while (left > 0) {
      size_t want = left < CHUNK ? (size_t)left : CHUNK;
      ssize_t n = pread(fd, buf, want, off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fprintf(stderr, "sha256-ranges: %s: short read at %lld\n", path, off);
        return 1;
      }
      EVP_DigestUpdate(ctx, buf, (size_t)n);
      off += n;
      left -= n;
    }
    close(fd);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, digest, &len);
    for (unsigned int j = 0; j < len; j++) printf("%02x", digest[j]);
    printf("  %s %s %s\n", path, argv[i + 1], argv[i + 2]);
  }
  EVP_MD_CTX_free(ctx);
  free(buf);
  return 0;
}
