import { expect, test } from 'vitest'
import { createRateMeter, estimateTokens } from '../../src/tokenRate.js'

test('the rate counts tokens since the first piece, once a quarter second has passed', () => {
	let now = 1000
	const meter = createRateMeter(() => now)
	expect(meter.note(1)).toBeNull()
	now = 1200
	expect(meter.note(1)).toBeNull()
	now = 1500
	expect(meter.note(3)).toBe(10) // 5 tokens in 0.5 s
	expect(meter.arrivals()).toEqual([1000, 1200, 1500])
})

test('two pieces, however far apart, and a burst have no rate', () => {
	let now = 1000
	const meter = createRateMeter(() => now)
	expect(meter.note(20)).toBeNull()
	now = 3000
	expect(meter.note(20)).toBeNull() // only two pieces
	const burst = createRateMeter(() => 5000)
	for (let i = 0; i < 30; i++) {
		expect(burst.note(1)).toBeNull() // thirty pieces in no time
	}
})

test('long-poll text is about 4 characters a token, and never 0', () => {
	expect(estimateTokens(0)).toBe(1)
	expect(estimateTokens(10)).toBe(3)
	expect(estimateTokens(400)).toBe(100)
})
