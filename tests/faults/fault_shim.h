/* A test-only fault injector (SQLite-style): linked into tests/faults/test_faults with
 * -Wl,--wrap=SYMBOL, it sits between cldiff's own code and the C allocator or the OpenCL ICD
 * loader, counts the calls of one kind and makes the Nth one fail as the real call would when
 * memory or the driver runs out (NULL, CL_OUT_OF_RESOURCES, CL_MEM_OBJECT_ALLOCATION_FAILURE).
 * Allocations inside the driver, libc, cJSON or CLBlast are not cldiff's and are not counted. */
#ifndef CLDIFF_FAULT_SHIM_H
#define CLDIFF_FAULT_SHIM_H
#include <stdbool.h>

typedef enum { FAULT_HOST, FAULT_CL, FAULT_KINDS } fault_kind;

/* counts from zero; the nth call of kind k (1-based) fails, 0 = count only; with FAULTS_CALL=NAME
 * in the environment only the calls of that name count */
void fault_arm(fault_kind k, long nth);
void fault_disarm(void);
long fault_count(fault_kind k);  /* calls of kind k since fault_arm */
bool fault_fired(void);          /* the armed call happened (and failed) */
const char *fault_what(void);    /* the name of the call that was made to fail */
const char *fault_caller(void);  /* the function that made it (its exported symbol, or "?") */
#endif
