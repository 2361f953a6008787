/*
 * eam_barrier.h — a spinning barrier for the threads of one parallel step that must meet inside
 * it (the int8 forward pass: every block's qkv before its attention, its attention before the
 * MLP reuses the qkv rows). Every thread is already running, so a meeting of balanced threads
 * costs a cache line, not a sleep and a wake-up. A waiter spins for a few microseconds, then
 * sleeps (Linux futex; elsewhere it yields between checks), so a thread that lost its CPU to
 * another process is not spun against.
 */
#ifndef EAM_BARRIER_H
#define EAM_BARRIER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialized before the first use; reusable at once by the same threads. */
typedef struct {
  unsigned arrived;
  unsigned generation;
  unsigned sleepers;
} eam_barrier;

/* Returns when `threads` threads have called it (the same `threads` in all of them). Each of
 * them must be running concurrently: a thread that ran two of the parties in turn would wait
 * forever. Memory written before the call by any party is visible to all after it. */
void eam_barrier_wait(eam_barrier *b, int threads);

#ifdef __cplusplus
}
#endif

#endif
