/*
 * replay.c - feeds files to a harness without libFuzzer, so the checked-in
 * corpus (and any crash reproducer) replays in a plain build under CTest.
 *
 * Usage: replay_<harness> PATH...; a PATH that is a directory replays
 * every regular file in it, in name order. Exits 0 when every input ran
 * (a broken invariant aborts), 1 when a path cannot be read or no input
 * was found.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t* data = malloc(cap);
  while (data) {
    size_t n = fread(data + len, 1, cap - len, f);
    len += n;
    if (len < cap) break;
    uint8_t* grown = realloc(data, cap * 2);
    if (!grown) {
      free(data);
      data = NULL;
      break;
    }
    data = grown;
    cap *= 2;
  }
  int failed = ferror(f) || !data;
  fclose(f);
  if (failed) {
    free(data);
    fprintf(stderr, "replay: cannot read %s\n", path);
    return -1;
  }
  /* An exact-size copy, so ASan sees reads past the input's end. */
  uint8_t* exact = malloc(len ? len : 1);
  if (!exact) {
    free(data);
    return -1;
  }
  memcpy(exact, data, len);
  free(data);
  (void)LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int name_cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

static int replay_path(const char* path, unsigned* count) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: no such path %s\n", path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (replay_file(path) != 0) return -1;
    ++*count;
    return 0;
  }
  DIR* dir = opendir(path);
  if (!dir) return -1;
  char** names = NULL;
  size_t n = 0;
  struct dirent* e;
  int rc = 0;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char** grown = realloc(names, (n + 1) * sizeof(*names));
    if (!grown) {
      rc = -1;
      break;
    }
    names = grown;
    names[n] = strdup(e->d_name);
    if (!names[n]) {
      rc = -1;
      break;
    }
    ++n;
  }
  closedir(dir);
  if (n) qsort(names, n, sizeof(*names), name_cmp);
  for (size_t i = 0; i < n; ++i) {
    char full[4096];
    snprintf(full, sizeof(full), "%s/%s", path, names[i]);
    if (rc == 0 && replay_path(full, count) != 0) rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char** argv) {
  unsigned count = 0;
  for (int i = 1; i < argc; ++i) {
    if (replay_path(argv[i], &count) != 0) return 1;
  }
  if (count == 0) {
    fprintf(stderr, "replay: no inputs\n");
    return 1;
  }
  printf("replayed %u inputs\n", count);
  return 0;
}
