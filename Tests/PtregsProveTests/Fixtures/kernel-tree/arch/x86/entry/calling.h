/*
 * Register save and restore macros for the test tree's entry code, in the style
 * of arch/x86/entry/calling.h: push the general registers in struct pt_regs order
 * (the hardware frame and orig_ax are already on the stack), pop them back.
 */
#include <generated/asm-offsets.h>
#include <asm/alternative.h>

.macro PUSH_REGS rdx=%rdx rax=%rax
	pushq	%rdi		/* pt_regs->di */
	pushq	%rsi		/* pt_regs->si */
	pushq	\rdx		/* pt_regs->dx */
	pushq	%rcx		/* pt_regs->cx */
	pushq	\rax		/* pt_regs->ax */
	pushq	%r8		/* pt_regs->r8 */
	pushq	%r9		/* pt_regs->r9 */
	pushq	%r10		/* pt_regs->r10 */
	pushq	%r11		/* pt_regs->r11 */
	pushq	%rbx		/* pt_regs->bx */
	pushq	%rbp		/* pt_regs->bp */
	pushq	%r12		/* pt_regs->r12 */
	pushq	%r13		/* pt_regs->r13 */
	pushq	%r14		/* pt_regs->r14 */
	pushq	%r15		/* pt_regs->r15 */
.endm

.macro POP_REGS skip_r11=0
	.irp	reg, r15, r14, r13, r12, rbp, rbx
	popq	%\reg
	.endr
	.ifeq \skip_r11
	popq	%r11
	.else
	addq	$8, %rsp
	.endif
	.irp	reg, r10, r9, r8, rax, rcx, rdx, rsi, rdi
	popq	%\reg
	.endr
.endm

/* An exception-table entry: a fault at \from resumes at \to. */
.macro EXTABLE_DEMO from:req, to:req
	.pushsection "__ex_table", "a"
	.balign 4
	.long (\from) - ., (\to) - .
	.popsection
.endm

/* Calls a C function, moving its argument into place first if one is given. */
.macro CALL_C func:req, move:vararg
	.ifnb \move
	MOVE_ARG \move
	.endif
	call	\func
.endm

.macro MOVE_ARG src:req, dst:req
	movq	\src, \dst
.endm
