/*
 * Register save and restore macros for the test tree's entry code, in the style
 * of arch/x86/entry/calling.h: push the general registers in struct pt_regs order
 * (the hardware frame and orig_ax are already on the stack), pop them back.
 */
#include <generated/asm-offsets.h>
#include <asm/alternative.h>

.macro PUSH_REGS rdx=%rdx rax=%rax cfi=0
	PUSH_CFI	%rdi, \cfi		/* pt_regs->di */
	PUSH_CFI	%rsi, \cfi		/* pt_regs->si */
	PUSH_CFI	\rdx, \cfi		/* pt_regs->dx */
	PUSH_CFI	%rcx, \cfi		/* pt_regs->cx */
	PUSH_CFI	\rax, \cfi		/* pt_regs->ax */
	PUSH_CFI	%r8, \cfi		/* pt_regs->r8 */
	PUSH_CFI	%r9, \cfi		/* pt_regs->r9 */
	PUSH_CFI	%r10, \cfi		/* pt_regs->r10 */
	PUSH_CFI	%r11, \cfi		/* pt_regs->r11 */
	PUSH_CFI	%rbx, \cfi		/* pt_regs->bx */
	PUSH_CFI	%rbp, \cfi		/* pt_regs->bp */
	PUSH_CFI	%r12, \cfi		/* pt_regs->r12 */
	PUSH_CFI	%r13, \cfi		/* pt_regs->r13 */
	PUSH_CFI	%r14, \cfi		/* pt_regs->r14 */
	PUSH_CFI	%r15, \cfi		/* pt_regs->r15 */
.endm

.macro POP_REGS skip_r11=0 cfi=0
	.irp	reg, r15, r14, r13, r12, rbp, rbx
	POP_CFI	%\reg, \cfi
	.endr
	.ifeq \skip_r11
	POP_CFI	%r11, \cfi
	.else
	addq	$8, %rsp
	.if \cfi
	.cfi_adjust_cfa_offset -8
	.endif
	.endif
	.irp	reg, r10, r9, r8, rax, rcx, rdx, rsi, rdi
	POP_CFI	%\reg, \cfi
	.endr
.endm

/* A push or pop and, with cfi=1, the move of the CFA it makes (as pushq_cfi did). */
.macro PUSH_CFI reg:req, cfi=0
	pushq	\reg
	.if \cfi
	.cfi_adjust_cfa_offset 8
	.endif
.endm

.macro POP_CFI reg:req, cfi=0
	popq	\reg
	.if \cfi
	.cfi_adjust_cfa_offset -8
	.endif
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
