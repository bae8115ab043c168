/* Per-CPU variable access from assembly, in the style of the kernel's percpu.h. */
#ifndef _TEST_ASM_PERCPU_H
#define _TEST_ASM_PERCPU_H

#define __percpu_seg		gs
#define PER_CPU_VAR(var)	%__percpu_seg:var

#endif
