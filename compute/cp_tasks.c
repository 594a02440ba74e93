/*
 * cp_tasks: the registry of a worker's tasks (see cp_tasks.h). Main thread
 * at start; read-only afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>

#include "cp_tasks.h"
#include "sl_err.h"
#include "sl_proto.h"

#define CP_TASKS_MAX SL_PROTO_MAX_TASKS /* what one READY can name */

struct cp_tasks {
	const cp_task_t *tasks[CP_TASKS_MAX]; /* borrowed: static or plugin */
	size_t n;
	void *plugins[8]; /* dlopen handles, closed by destroy */
	size_t n_plugins;
};

cp_tasks_t *
cp_tasks_new(void)
{
	cp_tasks_t *self = calloc(1, sizeof *self);
	size_t n;
	const cp_task_t *builtin = cp_task_all(&n);

	if (!self)
		return NULL;
	for (size_t i = 0; i < n; i++)
		self->tasks[self->n++] = &builtin[i];
	return self;
}

int
cp_tasks_load_plugin(
    cp_tasks_t *self, const char *path, char *err, size_t errlen)
{
	const cp_task_t *(*entry)(unsigned, size_t *);
	const cp_task_t *table;
	size_t n = 0;
	void *h;

	if (self->n_plugins
	    == sizeof self->plugins / sizeof self->plugins[0]) {
		snprintf(err, errlen, "%s: too many plugins", path);
		return SL_EINVAL;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return SL_EINVAL;
	}
	/* The ISO C way to turn a void * into a function pointer. */
	*(void **) &entry = dlsym(h, "sluice_tasks");
	/* Ours first; a version 1 plugin refuses it and takes 1: its tasks
	 * read only ctx's first two fields, which version 2 kept. */
	table = entry ? entry(SLUICE_TASK_API, &n) : NULL;
	if (entry && (!table || !n))
		table = entry(1, &n);
	if (!table || !n) {
		snprintf(err, errlen, "%s: %s", path,
		    entry ? "sluice_tasks() refused API version "
		            "(rebuild against this sluice_task.h)"
		          : "no sluice_tasks() symbol");
		dlclose(h);
		return SL_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const cp_task_t *t = &table[i];

		if (!t->name
		    || !sl_proto_task_name_ok(t->name, strlen(t->name))
		    || !t->run || !t->help
		    || cp_tasks_find(self, t->name, strlen(t->name))
		    || self->n + (n - i) > CP_TASKS_MAX) {
			snprintf(err, errlen,
			    "%s: task %zu ('%.40s'): bad or duplicate name, "
			    "or "
			    "no function or help",
			    path, i, t->name ? t->name : "");
			/* Nothing of this plugin stays registered. */
			self->n -= i;
			dlclose(h);
			return SL_EINVAL;
		}
		self->tasks[self->n++] = t;
	}
	self->plugins[self->n_plugins++] = h;
	return 0;
}

const cp_task_t *
cp_tasks_find(const cp_tasks_t *self, const char *name, size_t len)
{
	for (size_t i = 0; i < self->n; i++)
		if (strlen(self->tasks[i]->name) == len
		    && !memcmp(self->tasks[i]->name, name, len))
			return self->tasks[i];
	return NULL;
}

size_t
cp_tasks_count(const cp_tasks_t *self)
{
	return self->n;
}

const cp_task_t *
cp_tasks_at(const cp_tasks_t *self, size_t i)
{
	return i < self->n ? self->tasks[i] : NULL;
}

void
cp_tasks_destroy(cp_tasks_t **self_p)
{
	cp_tasks_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	for (size_t i = 0; i < self->n_plugins; i++)
		dlclose(self->plugins[i]);
	free(self);
	*self_p = NULL;
}
