/* The barrier of eam_barrier.h: the last thread to arrive resets the count and moves the
 * generation on; the others wait for the generation to change, spinning a little, then asleep
 * (Linux: a futex on the generation; elsewhere: yielding between checks). */
#include "eam_barrier.h"
#if defined(__linux__)
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__linux__) || defined(__APPLE__)
#include <sched.h>
#define EAM_YIELD() sched_yield()
#else
#define EAM_YIELD() ((void)0)
#endif

/* A waiter checks the generation EAM_BARRIER_SPINS times (microseconds: what balanced threads
 * lack of each other), then EAM_BARRIER_YIELDS times each after a yield (at once on an idle CPU;
 * on a busy one another thread runs meanwhile), then sleeps. On a 2-core machine shared with
 * other processes, long spinning lost to sleeping at once, and sleeping at once to yielding. */
#define EAM_BARRIER_SPINS 100
#define EAM_BARRIER_YIELDS 50

static inline void relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Sleeps while *word == value (returns at once if it is not, or on any wake-up). */
static void sleep_on(unsigned *word, unsigned value) {
#if defined(__linux__)
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
  (void)word, (void)value;
  EAM_YIELD();
#endif
}

static void wake_all(unsigned *word) {
#if defined(__linux__)
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
  (void)word;
#endif
}

void eam_barrier_wait(eam_barrier *b, int threads) {
  if (threads <= 1) return;
  const unsigned generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->arrived, 1u, __ATOMIC_ACQ_REL) == (unsigned)threads) {
    __atomic_store_n(&b->arrived, 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&b->generation, generation + 1u, __ATOMIC_SEQ_CST);
    /* A sleeper counted itself before it checked the generation: it is seen here or sees it. */
    if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) > 0) wake_all(&b->generation);
    return;
  }
  for (int spins = 0; spins < EAM_BARRIER_SPINS + EAM_BARRIER_YIELDS; spins++) {
    if (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) != generation) return;
    if (spins < EAM_BARRIER_SPINS) relax();
    else EAM_YIELD();
  }
  __atomic_add_fetch(&b->sleepers, 1u, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&b->generation, __ATOMIC_SEQ_CST) == generation) sleep_on(&b->generation, generation);
  __atomic_sub_fetch(&b->sleepers, 1u, __ATOMIC_SEQ_CST);
}
