/*
 * eam_platform.h — every operating-system call the runtime core makes, as small inline
 * wrappers over POSIX (no variadic functions, no macros that Swift cannot import).
 *
 * On a target without an operating system of its own (Embedded Swift for aarch64-none-none-elf
 * and the like) there are no files (artifacts come as memory buffers), and threads, the clock and
 * the CPU count are functions the program that links the runtime supplies: the C API's
 * platform_posix.c (a Linux device) or platform_none.c (one thread, no clock).
 */
#ifndef EAM_PLATFORM_H
#define EAM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__linux__) || defined(__APPLE__)
#define EAM_PLATFORM_POSIX 1
/* platform_posix.c defines EAM_PLATFORM_FN empty: it compiles the threads, clock and CPU
 * functions below as the external ones a core built without an OS is linked with. */
#ifndef EAM_PLATFORM_FN
#define EAM_PLATFORM_FN static inline
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A read-only descriptor of `path`, or -1 (errno set). */
static inline int eam_open_read(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }
static inline int eam_close(int fd) { return close(fd); }

/* The size of the regular file behind fd in *size: 0, or -1 (errno set), or -2 when the
 * descriptor is not a regular file. */
static inline int eam_regular_file_size(int fd, int64_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if ((st.st_mode & S_IFMT) != S_IFREG) return -2;
  *size = (int64_t)st.st_size;
  return 0;
}

/* Maps `length` bytes of fd read-only and private; NULL on failure (errno set). */
static inline const void *eam_map_read(int fd, size_t length) {
  void *p = mmap(NULL, length, PROT_READ, MAP_PRIVATE, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}
static inline void eam_unmap(const void *p, size_t length) { munmap((void *)p, length); }

static inline int eam_errno(void) { return errno; }
static inline const char *eam_error_text(int code) { return strerror(code); }

/* Seconds on a monotonic clock. */
EAM_PLATFORM_FN double eam_monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPUs online, at least 1. */
EAM_PLATFORM_FN int eam_online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > 4096 ? 4096 : (int)n);
}

/* Bytes of physical memory, 0 when unknown. */
EAM_PLATFORM_FN int64_t eam_physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || size <= 0 || pages > INT64_MAX / size) return 0;
  return (int64_t)pages * (int64_t)size;
}

/* Threads: one mutex and two condition variables per pool, allocated here so that Swift never
 * takes the address of a pthread object it owns. */
typedef struct eam_sync {
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  pthread_cond_t done;
} eam_sync;

EAM_PLATFORM_FN eam_sync *eam_sync_create(void) {
  eam_sync *s = (eam_sync *)malloc(sizeof(eam_sync));
  if (!s) return NULL;
  pthread_mutex_init(&s->mutex, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->done, NULL);
  return s;
}
EAM_PLATFORM_FN void eam_sync_destroy(eam_sync *s) {
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->mutex);
  free(s);
}
EAM_PLATFORM_FN void eam_sync_lock(eam_sync *s) { pthread_mutex_lock(&s->mutex); }
EAM_PLATFORM_FN void eam_sync_unlock(eam_sync *s) { pthread_mutex_unlock(&s->mutex); }
EAM_PLATFORM_FN void eam_sync_wait_wake(eam_sync *s) { pthread_cond_wait(&s->wake, &s->mutex); }
EAM_PLATFORM_FN void eam_sync_broadcast_wake(eam_sync *s) { pthread_cond_broadcast(&s->wake); }
EAM_PLATFORM_FN void eam_sync_wait_done(eam_sync *s) { pthread_cond_wait(&s->done, &s->mutex); }
EAM_PLATFORM_FN void eam_sync_signal_done(eam_sync *s) { pthread_cond_signal(&s->done); }

/* Starts a joinable thread running body(context); returns an opaque handle or NULL. */
EAM_PLATFORM_FN void *eam_thread_start(void *(*body)(void *), void *context) {
  pthread_t *t = (pthread_t *)malloc(sizeof(pthread_t));
  if (!t) return NULL;
  if (pthread_create(t, NULL, body, context) != 0) {
    free(t);
    return NULL;
  }
  return t;
}
EAM_PLATFORM_FN void eam_thread_join(void *handle) {
  pthread_join(*(pthread_t *)handle, NULL);
  free(handle);
}
#else
/* Supplied at link time (see above). A NULL sync makes every pool single-threaded. */
typedef struct eam_sync eam_sync;
double eam_monotonic_seconds(void);
int eam_online_cpus(void);
int64_t eam_physical_memory(void);
eam_sync *eam_sync_create(void);
void eam_sync_destroy(eam_sync *s);
void eam_sync_lock(eam_sync *s);
void eam_sync_unlock(eam_sync *s);
void eam_sync_wait_wake(eam_sync *s);
void eam_sync_broadcast_wake(eam_sync *s);
void eam_sync_wait_done(eam_sync *s);
void eam_sync_signal_done(eam_sync *s);
void *eam_thread_start(void *(*body)(void *), void *context);
void eam_thread_join(void *handle);
#endif

#endif
