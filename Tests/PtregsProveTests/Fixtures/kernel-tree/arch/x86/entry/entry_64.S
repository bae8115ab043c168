/*
 * Entry code of the test tree, written in the style of arch/x86/entry/entry_64.S:
 * interrupt entries that build struct pt_regs on the stack, call C and return
 * with iretq. The checks in checks/entry_64.pts name paths in this file.
 */
#include "calling.h"

/*
 * An interrupt: the CPU has pushed ss, rsp, rflags, cs and rip. Push orig_ax and the
 * general registers, hand pt_regs to C, undo it all and return.
 */
irq_entry_demo:
	pushq	$-1			/* pt_regs->orig_ax */
	PUSH_REGS
	movq	%rsp, %rdi		/* struct pt_regs * */
	call	handle_irq_demo
	POP_REGS
	addq	$8, %rsp		/* drop orig_ax */
	iretq

/*
 * The same entry with a bug: rcx is cleared after it was restored, so the
 * interrupted code gets its rcx back as zero.
 */
irq_entry_clobber:
	pushq	$-1
	PUSH_REGS
	movq	%rsp, %rdi
	call	handle_irq_demo
	POP_REGS
	xorl	%ecx, %ecx		/* BUG: after POP_REGS */
	addq	$8, %rsp
	iretq
