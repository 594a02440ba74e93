/*
 * cp_tasks: the registry of the tasks one worker runs: the built-ins
 * (cp_task), then those of plugins (shared objects exporting
 * sluice_tasks(), sluice_task.h), in that order; READY names them all.
 *
 * A plugin's table is checked entry by entry (API version, names by the
 * task-name rule, no repeats, function and help); a refused plugin leaves
 * the registry as it was and is closed again. Built by the main
 * thread at start and read-only afterwards (the I/O thread looks tasks up
 * in it); destroy closes the plugins.
 */
#ifndef CP_TASKS_H
#define CP_TASKS_H

#include <stddef.h>

#include "cp_task.h"

/* Every task a worker runs: the built-ins, then those of plugins. */
typedef struct cp_tasks cp_tasks_t;

/* The built-in tasks; NULL on ENOMEM. Caller owns it. */
cp_tasks_t *cp_tasks_new(void);
/* dlopen a plugin and add its tasks (API version, names and duplicates
 * checked). 0, or SL_EINVAL with err filled. */
int cp_tasks_load_plugin(
    cp_tasks_t *self, const char *path, char *err, size_t errlen);
const cp_task_t *cp_tasks_find(
    const cp_tasks_t *self, const char *name, size_t len);
size_t cp_tasks_count(const cp_tasks_t *self);
const cp_task_t *cp_tasks_at(const cp_tasks_t *self, size_t i);
/* Frees the registry and closes the plugins; NULL-safe. */
void cp_tasks_destroy(cp_tasks_t **self_p);

#endif
