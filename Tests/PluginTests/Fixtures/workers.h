/*
 * Worker threads a test plugin answers from, joined at cleanup: the image is unmapped right after
 * cleanup returns, so every thread must have left the image's code by then. Joining is what
 * guarantees it; a detached thread that signalled "done" may still be running its last
 * instructions in the image. Header-only (static functions), for fixtures built with
 * -D_POSIX_C_SOURCE=200809L -pthread.
 */
#ifndef STARLING_TEST_WORKERS_H
#define STARLING_TEST_WORKERS_H

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct workers {
    pthread_mutex_t lock;
    pthread_t *threads;
    size_t count;
    size_t capacity;
} workers;

static void workers_init(workers *w)
{
    pthread_mutex_init(&w->lock, NULL);
    w->threads = NULL;
    w->count = 0;
    w->capacity = 0;
}

/* Starts `body(arg)` on a thread of its own, joined by workers_finish.
 * Returns 0, or non-zero when no thread could be started. */
static int workers_spawn(workers *w, void *(*body)(void *), void *arg)
{
    int failed = 0;
    pthread_mutex_lock(&w->lock);
    if (w->count == w->capacity) {
        size_t capacity = w->capacity ? w->capacity * 2 : 8;
        pthread_t *grown = realloc(w->threads, capacity * sizeof *grown);
        if (grown == NULL) failed = 1;
        else {
            w->threads = grown;
            w->capacity = capacity;
        }
    }
    if (!failed) failed = pthread_create(&w->threads[w->count], NULL, body, arg);
    if (!failed) w->count++;
    pthread_mutex_unlock(&w->lock);
    return failed;
}

/* A worker's last step (kept so each worker states where it ends; joining does the waiting). */
static void workers_done(workers *w)
{
    (void)w;
}

/* Waits until every worker thread has ended, then releases the list. */
static void workers_finish(workers *w)
{
    size_t i;
    pthread_mutex_lock(&w->lock);
    for (i = 0; i < w->count; i++) pthread_join(w->threads[i], NULL);
    free(w->threads);
    w->threads = NULL;
    w->count = 0;
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
}

static void sleep_ms(int ms)
{
    struct timespec pause;
    pause.tv_sec = ms / 1000;
    pause.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&pause, NULL);
}

#endif
