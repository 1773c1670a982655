/**
 * The live speed of an answer: tokens per second since its first piece of text.
 */

/**
 * Long-poll carries no token count: about 4 characters make a token.
 *
 * @param {number} chars characters of text
 * @return {number} estimated tokens, at least 1
 */
export function estimateTokens(chars) {
	return Math.max(1, Math.round(chars / 4))
}

// A rate only over a measurable stretch, as the server's tokens_per_second: an answer that arrives in one burst
// has none (issue 11: "57516.4 tokens/s").
export const MIN_RATE_INTERVAL_S = 0.25
export const MIN_RATE_ARRIVALS = 3

/**
 * @param {() => number} [now] clock in milliseconds
 * @return {{note: (tokens: number) => number|null, arrivals: () => number[]}} note() records a piece and
 *   returns the rate (null until 3 pieces over 0.25 s); arrivals() the times of the pieces
 */
export function createRateMeter(now = () => performance.now()) {
	const times = []
	let tokens = 0
	return {
		note(count) {
			const at = now()
			times.push(at)
			tokens += count
			const elapsed = (at - times[0]) / 1000
			const measurable = elapsed >= MIN_RATE_INTERVAL_S && times.length >= MIN_RATE_ARRIVALS
			return measurable ? Math.round((tokens / elapsed) * 10) / 10 : null
		},
		arrivals: () => times.slice(),
	}
}
