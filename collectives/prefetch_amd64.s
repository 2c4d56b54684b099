#include "textflag.h"

// func prefetchWrite(p *byte)
TEXT ·prefetchWrite(SB),NOSPLIT,$0-8
	MOVQ p+0(FP), AX
	// PREFETCHW (AX), which the Go assembler does not know: 0F 0D /1.
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08
	RET
