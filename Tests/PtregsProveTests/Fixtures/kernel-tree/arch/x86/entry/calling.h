/*
 * Register save and restore macros for the test tree's entry code, in the style
 * of arch/x86/entry/calling.h: push the general registers in struct pt_regs order
 * (the hardware frame and orig_ax are already on the stack), pop them back.
 */
#include <generated/asm-offsets.h>

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

.macro POP_REGS
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rax
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
.endm
