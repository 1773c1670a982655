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

/**
 * @param {() => number} [now] clock in milliseconds
 * @return {{note: (tokens: number) => number|null, arrivals: () => number[]}} note() records a piece and
 *   returns the rate (null until 0.25 s have passed); arrivals() the times of the pieces
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
			return elapsed >= 0.25 ? Math.round((tokens / elapsed) * 10) / 10 : null
		},
		arrivals: () => times.slice(),
	}
}
