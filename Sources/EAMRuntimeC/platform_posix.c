/* Threads, clock and CPU count for a runtime core compiled without an operating system of its
 * own (Embedded Swift for aarch64-none-none-elf) that is linked into a POSIX program, such as a
 * Linux device's: the functions eam_platform.h declares for that case, over pthreads. */
#define EAM_PLATFORM_SUPPLIED 1
#include "eam_platform.h"
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct eam_sync {
  pthread_mutex_t mutex;
  pthread_cond_t wake, done;
};

double eam_monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int eam_online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > 4096 ? 4096 : (int)n);
}

int64_t eam_physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || size <= 0 || pages > INT64_MAX / size) return 0;
  return (int64_t)pages * (int64_t)size;
}

eam_sync *eam_sync_create(void) {
  eam_sync *s = (eam_sync *)malloc(sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mutex, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_cond_init(&s->done, NULL);
  return s;
}

void eam_sync_destroy(eam_sync *s) {
  pthread_cond_destroy(&s->wake);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->mutex);
  free(s);
}

void eam_sync_lock(eam_sync *s) { pthread_mutex_lock(&s->mutex); }
void eam_sync_unlock(eam_sync *s) { pthread_mutex_unlock(&s->mutex); }
void eam_sync_wait_wake(eam_sync *s) { pthread_cond_wait(&s->wake, &s->mutex); }
void eam_sync_broadcast_wake(eam_sync *s) { pthread_cond_broadcast(&s->wake); }
void eam_sync_wait_done(eam_sync *s) { pthread_cond_wait(&s->done, &s->mutex); }
void eam_sync_signal_done(eam_sync *s) { pthread_cond_signal(&s->done); }

void *eam_thread_start(void *(*body)(void *), void *context) {
  pthread_t *t = (pthread_t *)malloc(sizeof *t);
  if (!t) return NULL;
  if (pthread_create(t, NULL, body, context) != 0) {
    free(t);
    return NULL;
  }
  return t;
}

void eam_thread_join(void *handle) {
  pthread_join(*(pthread_t *)handle, NULL);
  free(handle);
}
