/*
 * bn_report: sluice-bench's verdict: a table for people, or one JSON
 * object (--json) for scripts. Main thread, after the run.
 */
#ifndef BN_REPORT_H
#define BN_REPORT_H

#include <stdio.h>

#include "bn_client.h"

/* Items submitted that ended neither as a result, an item error, nor in a
 * refused request: must be 0. */
uint64_t bn_report_lost(const bn_run_t *run);

/* 1 if the run is clean: every connection worked, nothing lost, refused,
 * failed or unparseable, at least one result. */
int bn_report_ok(const bn_run_t *run);

/* Summarise the samples (sorts them) and print to out. */
void bn_report_print(bn_run_t *run, int json, FILE *out);

#endif
