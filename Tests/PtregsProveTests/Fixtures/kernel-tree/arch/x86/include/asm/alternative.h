/*
 * Code patched at boot by CPU feature, in the style of the kernel's alternative.h:
 * the original instructions, a table entry naming them and their replacement, and
 * the replacement in a section of its own. Written for the test tree.
 */
#ifndef _TEST_ASM_ALTERNATIVE_H
#define _TEST_ASM_ALTERNATIVE_H

#define X86_FEATURE_DEMO	(3*32 + 17)

.macro ALT_ENTRY orig, alt, feature, orig_len, alt_len
	.long \orig - .
	.long \alt - .
	.4byte \feature
	.byte \orig_len
	.byte \alt_len
.endm

.macro ALTERNATIVE oldinstr, newinstr, feature
740:
	\oldinstr
741:
	.skip -(((744f-743f)-(741b-740b)) > 0) * ((744f-743f)-(741b-740b)), 0x90
742:
	.pushsection .altinstructions, "a"
	ALT_ENTRY 740b, 743f, \feature, 742b-740b, 744f-743f
	.popsection
	.pushsection .altinstr_replacement, "ax"
743:
	\newinstr
744:
	.popsection
.endm

#endif
