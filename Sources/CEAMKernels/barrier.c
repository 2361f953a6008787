/* The spinning barrier of eam_barrier.h: the last thread to arrive resets the count and moves the
 * generation on; the others wait for the generation to change. */
#include "eam_barrier.h"
#if defined(__linux__) || defined(__APPLE__)
#include <sched.h>
#define EAM_YIELD() sched_yield()
#else
#define EAM_YIELD() ((void)0)
#endif

/* Checks of the generation before the waiter starts yielding: a few microseconds. Then each check
 * follows a yield, which returns at once on an idle CPU and hands a loaded one to another thread
 * (spinning longer lost against other processes on a loaded 2-core machine). */
#define EAM_BARRIER_SPINS 100

static inline void relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

void eam_barrier_wait(eam_barrier *b, int threads) {
  if (threads <= 1) return;
  const unsigned generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->arrived, 1u, __ATOMIC_ACQ_REL) == (unsigned)threads) {
    __atomic_store_n(&b->arrived, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&b->generation, generation + 1u, __ATOMIC_RELEASE);
    return;
  }
  for (int spins = 0; __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == generation;) {
    if (spins < EAM_BARRIER_SPINS) {
      spins++;
      relax();
    } else {
      EAM_YIELD();
    }
  }
}
