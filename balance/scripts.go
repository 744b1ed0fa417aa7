package balance

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/prelude.lua
	prelude string
	//go:embed lua/money.lua
	money string
)

// newScript prepends the shared prelude and the money helpers to body. Scripts are loaded
// once and called with EVALSHA, falling back to EVAL on NOSCRIPT (go-redis Script.Run).
func newScript(body string) *redis.Script { return redis.NewScript(prelude + money + body) }

var (
	//go:embed lua/create.lua
	createLua string
	//go:embed lua/update.lua
	updateLua string
	//go:embed lua/rotate.lua
	rotateLua string
	//go:embed lua/credit.lua
	creditLua string
	//go:embed lua/delete.lua
	deleteLua string
	//go:embed lua/movement.lua
	movementLua string
	//go:embed lua/transfer.lua
	transferLua string
	//go:embed lua/credit_transfer.lua
	creditTransferLua string
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/refund.lua
	refundLua string
	//go:embed lua/settle.lua
	settleLua string
	//go:embed lua/compact.lua
	compactLua string
	//go:embed lua/numbers.lua
	numbersLua string
	//go:embed lua/number_add.lua
	numberAddLua string
	//go:embed lua/number_move.lua
	numberMoveLua string
	//go:embed lua/number_remove.lua
	numberRemoveLua string
	//go:embed lua/number_release.lua
	numberReleaseLua string
	//go:embed lua/number_claim.lua
	numberClaimLua string
	//go:embed lua/tariff.lua
	tariffLua string
	//go:embed lua/call.lua
	callLua string
	//go:embed lua/hold.lua
	holdLua string
	//go:embed lua/hold_end.lua
	holdEndLua string
	//go:embed lua/hold_extend.lua
	holdExtendLua string
	//go:embed lua/hold_reap.lua
	holdReapLua string

	admitSrc  = prelude + tariffLua + callLua + admitLua // the hot path: no money helpers
	refundSrc = prelude + money + refundLua
	settleSrc = prelude + money + settleLua

	createScript   = newScript(createLua)
	updateScript   = newScript(numbersLua + updateLua) // closing gives the numbers to the parent
	rotateScript   = newScript(rotateLua)
	creditScript   = newScript(creditLua)
	deleteScript   = newScript(numbersLua + deleteLua) // so does deleting
	transferScript = newScript(movementLua + transferLua)
	admitScript    = redis.NewScript(admitSrc)
	refundScript   = redis.NewScript(refundSrc)
	settleScript   = redis.NewScript(settleSrc)
	compactScript  = newScript(compactLua)

	numberAddScript     = newScript(numbersLua + numberAddLua)
	numberMoveScript    = newScript(numbersLua + numberMoveLua)
	numberRemoveScript  = newScript(numbersLua + numberRemoveLua)
	numberReleaseScript = newScript(numberReleaseLua)
	numberClaimScript   = newScript(numberClaimLua)
	// the hold scripts share hold.lua, which needs the money helpers and the tariff
	holdEndScript    = newScript(tariffLua + holdLua + holdEndLua)
	holdExtendScript = newScript(tariffLua + holdLua + holdExtendLua)
	holdReapScript   = newScript(tariffLua + holdLua + holdReapLua)
)

// creditTransferScript shares the checks of a transfer (movement.lua).
var creditTransferScript = newScript(movementLua + creditTransferLua)
