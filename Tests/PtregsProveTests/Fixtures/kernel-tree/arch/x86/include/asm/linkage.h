/* Symbol annotations in the style of the kernel's linkage.h (test tree). */
#ifndef _TEST_ASM_LINKAGE_H
#define _TEST_ASM_LINKAGE_H

#define ALIGN			.p2align 4, 0x90

#define ENTRY(name)		.globl name ; ALIGN ; name:
#define END(name)		.size name, .-name

#define SYM_CODE_START(name)	.globl name ; .type name, @function ; ALIGN ; name:
#define SYM_CODE_END(name)	.type name, @function ; .size name, .-name
#define SYM_INNER_LABEL(name)	.globl name ; name:

#endif
