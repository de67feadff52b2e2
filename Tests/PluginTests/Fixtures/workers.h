/*
 * Detached worker threads a test plugin answers from, counted so that cleanup can wait for the
 * last one: the image is unmapped right after cleanup returns. Header-only (static functions),
 * for fixtures built with -D_POSIX_C_SOURCE=200809L -pthread.
 */
#ifndef STARLING_TEST_WORKERS_H
#define STARLING_TEST_WORKERS_H

#include <pthread.h>
#include <time.h>

typedef struct workers {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int running;
} workers;

static void workers_init(workers *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->idle, NULL);
    w->running = 0;
}

/* Starts `body(arg)` on a detached thread; the thread must call workers_done(w) last.
 * Returns 0, or non-zero when no thread could be started (nothing counted). */
static int workers_spawn(workers *w, void *(*body)(void *), void *arg)
{
    pthread_t thread;
    pthread_attr_t attributes;
    int failed;
    pthread_mutex_lock(&w->lock);
    w->running++;
    pthread_mutex_unlock(&w->lock);
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    failed = pthread_create(&thread, &attributes, body, arg);
    pthread_attr_destroy(&attributes);
    if (failed) {
        pthread_mutex_lock(&w->lock);
        w->running--;
        pthread_mutex_unlock(&w->lock);
    }
    return failed;
}

static void workers_done(workers *w)
{
    pthread_mutex_lock(&w->lock);
    w->running--;
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
}

/* Waits until every worker has called workers_done, then releases the counter. */
static void workers_finish(workers *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->running > 0) pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->idle);
}

static void sleep_ms(int ms)
{
    struct timespec pause;
    pause.tv_sec = ms / 1000;
    pause.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&pause, NULL);
}

#endif
