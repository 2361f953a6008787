/* The platform functions eam_platform.h declares for a target without an operating system, for
 * a program that has no threads or clock to offer: one thread (a NULL sync), no clock, one CPU,
 * unknown memory (the default budget is then 256 MiB). */
#include "eam_platform.h"

double eam_monotonic_seconds(void) { return 0; }
int eam_online_cpus(void) { return 1; }
int64_t eam_physical_memory(void) { return 0; }
eam_sync *eam_sync_create(void) { return 0; }
void eam_sync_destroy(eam_sync *s) { (void)s; }
void eam_sync_lock(eam_sync *s) { (void)s; }
void eam_sync_unlock(eam_sync *s) { (void)s; }
void eam_sync_wait_wake(eam_sync *s) { (void)s; }
void eam_sync_broadcast_wake(eam_sync *s) { (void)s; }
void eam_sync_wait_done(eam_sync *s) { (void)s; }
void eam_sync_signal_done(eam_sync *s) { (void)s; }
void *eam_thread_start(void *(*body)(void *), void *context) {
  (void)body;
  (void)context;
  return 0;
}
void eam_thread_join(void *handle) { (void)handle; }
