/*
 * Entry code of the test tree, written in the style of arch/x86/entry/entry_64.S:
 * interrupt entries that build struct pt_regs on the stack, call C and return
 * with iretq. The checks in checks/entry_64.pts name paths in this file.
 */
#include <asm/linkage.h>
#include <asm/percpu.h>
#include "calling.h"

	.section .entry.text, "ax"
	.code64

/*
 * An interrupt: the CPU has pushed ss, rsp, rflags, cs and rip. Push orig_ax and the
 * general registers, hand pt_regs to C, undo it all and return.
 */
SYM_CODE_START(irq_entry_demo)
	.cfi_startproc simple
	.cfi_def_cfa rsp, 5*8
	pushq	$-1			/* pt_regs->orig_ax */
	.cfi_adjust_cfa_offset 8
	PUSH_REGS cfi=1
	/* each push of PUSH_REGS moved the CFA with it */
	CALL_C	handle_irq_demo, %rsp, %rdi
	POP_REGS cfi=1
	addq	$8, %rsp		/* drop orig_ax */
	.cfi_adjust_cfa_offset -8
	iretq
	.cfi_endproc
SYM_CODE_END(irq_entry_demo)

	.pushsection .rodata, "a"
irq_names_demo:
	.asciz	"demo"
	.balign 8
	.quad	irq_entry_demo
	.popsection

/*
 * The same entry with a bug: rcx is cleared after it was restored, so the
 * interrupted code gets its rcx back as zero.
 */
SYM_CODE_START(irq_entry_clobber)
	pushq	$-1
	PUSH_REGS
	movq	%rsp, %rdi
1:	call	handle_irq_demo
	EXTABLE_DEMO 1b, 2f
2:	POP_REGS
	xorl	%ecx, %ecx		/* BUG: after POP_REGS */
	addq	$8, %rsp
	iretq
SYM_CODE_END(irq_entry_clobber)

/*
 * A system call that returns at once: the user's rsp waits in a per-CPU slot
 * while the kernel stack (the TSS's sp0) is in use.
 */
SYM_CODE_START(syscall_entry_demo)
	swapgs
	movq	%rsp, PER_CPU_VAR(cpu_tss_rw + TSS_sp2)
	movq	PER_CPU_VAR(cpu_tss_rw + TSS_sp0), %rsp
	pushq	%rcx
	popq	%rcx
	movq	PER_CPU_VAR(cpu_tss_rw + TSS_sp2), %rsp
	swapgs
	sysretq
SYM_CODE_END(syscall_entry_demo)

/*
 * An entry whose restore is patched at boot on CPUs with X86_FEATURE_DEMO: both
 * arms run on some CPU. BUG of the replacement only: it skips r11's restore.
 */
SYM_CODE_START(irq_entry_patched)
	pushq	$-1
	PUSH_REGS
	movq	%rsp, %rdi
	call	handle_irq_demo
	ALTERNATIVE "POP_REGS", "POP_REGS skip_r11=1", X86_FEATURE_DEMO
	addq	$8, %rsp
	iretq
SYM_CODE_END(irq_entry_patched)

	.previous
