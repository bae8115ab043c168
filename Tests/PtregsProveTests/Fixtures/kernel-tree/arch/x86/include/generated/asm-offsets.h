/*
 * Stand-in for the asm-offsets.h that kbuild generates: the byte offsets of
 * struct pt_regs on x86-64 (facts of the ABI), written for this test tree.
 */
#ifndef __ASM_OFFSETS_H__
#define __ASM_OFFSETS_H__

#define R15 0
#define R14 8
#define R13 16
#define R12 24
#define RBP 32
#define RBX 40
#define R11 48
#define R10 56
#define R9 64
#define R8 72
#define RAX 80
#define RCX 88
#define RDX 96
#define RSI 104
#define RDI 112
#define ORIG_RAX 120
#define RIP 128
#define CS 136
#define EFLAGS 144
#define RSP 152
#define SS 160
#define SIZEOF_PTREGS 168

/* struct tss_struct: x86_tss.sp0 and x86_tss.sp2 */
#define TSS_sp0 4
#define TSS_sp2 20

#endif
